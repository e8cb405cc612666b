// The CUDA emulator's own test, which build.sh runs right after building it: each check that the emulator catches
// what a GPU would reject (divergent barriers, shuffles with exited lanes, writes past an allocation, bad GEMM
// operands, bad options), shows a missing __syncthreads, and computes what cuBLAS and the warp primitives compute. Exit status 1 on the first
// failure, with the check named. It tests the emulator, not the backend: the JUnit suites do that.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
// runtime.cpp
int cudaMalloc(void** pointer, std::size_t bytes);
int cudaFree(void* pointer);
int cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, int kind, void* stream);
int cudaStreamSynchronize(void* stream);
int cudaGetLastError();
// driver.cpp
int cuModuleLoadData(void** module, const void* image);
int cuModuleGetFunction(void** function, void* module, const char* name);
int cuModuleUnload(void* module);
int cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void* stream, void** params, void** extra);
int cuGetErrorString(int status, const char** text);
int cuGetExportTable(const void** table, const void* id);
// nvrtc.cpp
int nvrtcCreateProgram(void** program, const char* source, const char* name, int headers, const char* const* texts,
                       const char* const* names);
int nvrtcCompileProgram(void* program, int count, const char* const* options);
int nvrtcGetProgramLogSize(void* program, std::size_t* size);
int nvrtcGetProgramLog(void* program, char* log);
int nvrtcGetCUBINSize(void* program, std::size_t* size);
int nvrtcGetCUBIN(void* program, char* image);
int nvrtcDestroyProgram(void** program);
// cublas.cpp
int cublasCreate_v2(void** handle);
int cublasSetMathMode(void* handle, int mode);
int cublasSgemmStridedBatched(void* handle, int ta, int tb, int m, int n, int k, const float* alpha, const float* A,
                              int lda, long long strideA, const float* B, int ldb, long long strideB,
                              const float* beta, float* C, int ldc, long long strideC, int batch);
int cublasDestroy_v2(void* handle);
}

namespace {

constexpr int H2D = 1, D2H = 2;
int failures = 0;

void expect(bool condition, const std::string& what) {
    if (!condition) {
        std::fprintf(stderr, "emulator_test: FAILED: %s\n", what.c_str());
        failures++;
    }
}

const char* KERNELS = R"(
#include "reduce.cuh"
// every thread gets the block's sum of threadIdx.x, by warp shuffles then shared memory
extern "C" __global__ void block_sum(int* out) {
    __shared__ int partial[32];
    int v = threadIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    int total = 0;
    for (int w = 0; w * 32 < (int) blockDim.x; w++) total += partial[w];
    out[blockIdx.x * blockDim.x + threadIdx.x] = total;
}
extern "C" __global__ void shuffle_down(float* out, int delta) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (float) threadIdx.x, delta);
}
// half a warp at __syncthreads, the other half at a full-mask shuffle: neither can complete
extern "C" __global__ void divergent_barrier(int* out) {
    if (threadIdx.x < 16) __syncthreads();
    else out[0] = __shfl_down_sync(0xffffffffu, 1, 1);
}
extern "C" __global__ void shuffle_after_exit(int* out) {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1, 1);
}
// two block sums in a row through one shared slot per warp; `careful` keeps the __syncthreads that stops a fast
// warp's second write from overwriting the first result before a slower warp has read it
extern "C" __global__ void two_sums(int* out, int careful) {
    __shared__ int partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int results[2];
    for (int round = 0; round < 2; round++) {
        int v = warp_sum((int) threadIdx.x + round * 1000);
        if (careful) __syncthreads();
        if (lane == 0) partial[warp] = v;
        __syncthreads();
        if (threadIdx.x == 0) {
            int total = 0;
            for (int w = 0; w < warps; w++) total += partial[w];
            partial[0] = total;
        }
        __syncthreads();
        results[round] = partial[0];
    }
    out[threadIdx.x] = results[0];
    out[blockDim.x + threadIdx.x] = results[1];
}
extern "C" __global__ void write_past_end(float* out, int n) {
    out[n] = 1.0f;
}
)";

const char* HEADER = R"(
#pragma once
__device__ int warp_sum(int v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}
)";

std::vector<char> compile(const char* source, const char* option, int* status, std::string* log) {
    void* program = nullptr;
    const char* headerTexts[] = {HEADER};
    const char* headerNames[] = {"reduce.cuh"};
    nvrtcCreateProgram(&program, source, "test.cu", 1, headerTexts, headerNames);
    const char* options[] = {option, "--std=c++17"};
    *status = nvrtcCompileProgram(program, 2, options);
    std::size_t size = 0;
    nvrtcGetProgramLogSize(program, &size);
    log->assign(size, '\0');
    nvrtcGetProgramLog(program, log->data());
    std::vector<char> image;
    if (*status == 0 && nvrtcGetCUBINSize(program, &size) == 0) {
        image.resize(size);
        nvrtcGetCUBIN(program, image.data());
    }
    nvrtcDestroyProgram(&program);
    return image;
}

void* function(void* module, const char* name) {
    void* f = nullptr;
    int status = cuModuleGetFunction(&f, module, name);
    expect(status == 0, std::string("cuModuleGetFunction(") + name + ") " + std::to_string(status));
    return f;
}

int launch(void* f, unsigned blocks, unsigned threads, void** params) {
    return cuLaunchKernel(f, blocks, 1, 1, threads, 1, 1, 0, nullptr, params, nullptr);
}

std::string launchFailure() {
    const char* text = nullptr;
    cuGetErrorString(719, &text);
    return text ? text : "";
}

void kernels() {
    int status;
    std::string log;
    compile("extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }", "--gpu-architecture=sm_90",
            &status, &log);
    expect(status == 6 && log.find("undefined_name") != std::string::npos, "a compile error gives status 6 and the log");
    compile(KERNELS, "--no-such-option", &status, &log);
    expect(status == 5, "an unknown option gives NVRTC_ERROR_INVALID_OPTION");
    std::vector<char> image = compile(KERNELS, "--gpu-architecture=sm_90", &status, &log);
    expect(status == 0 && !image.empty(), "the test kernels compile: " + log);
    if (image.empty()) return;
    void* module = nullptr;
    expect(cuModuleLoadData(&module, image.data()) == 0, "the image loads");
    void* missing = nullptr;
    expect(cuModuleGetFunction(&missing, module, "no_such_kernel") == 500, "a missing kernel is CUDA_ERROR_NOT_FOUND");

    int* out = nullptr;
    cudaMalloc((void**) &out, 96 * 2 * sizeof(int));
    void* params[] = {&out, nullptr};
    expect(launch(function(module, "block_sum"), 2, 96, params) == 0, "block_sum launches");
    std::vector<int> sums(192);
    cudaMemcpyAsync(sums.data(), out, sums.size() * sizeof(int), D2H, nullptr);
    bool right = true;
    for (int s : sums) right = right && s == 95 * 96 / 2;
    expect(right, "block_sum: every thread of both blocks sees 4560");
    expect(launch(function(module, "block_sum"), 1, 1025, params) == 1, "1025 threads per block is refused");

    float* floats = nullptr;
    cudaMalloc((void**) &floats, 48 * sizeof(float));
    int delta = 5;
    void* shuffleParams[] = {&floats, &delta};
    expect(launch(function(module, "shuffle_down"), 1, 48, shuffleParams) == 0, "shuffle_down launches");
    std::vector<float> shuffled(48);
    cudaMemcpyAsync(shuffled.data(), floats, 48 * sizeof(float), D2H, nullptr);
    // lanes whose source is outside their warp (32 wide, then 16 wide) keep their own value
    bool shuffledRight = true;
    for (int t = 0; t < 48; t++) {
        int base = t / 32 * 32, width = t < 32 ? 32 : 16, lane = t - base;
        float expected = (float) (lane + delta < width ? t + delta : t);
        shuffledRight = shuffledRight && shuffled[t] == expected;
    }
    expect(shuffledRight, "__shfl_down_sync by 5 over a 32-lane and a 16-lane warp");

    void* one[] = {&out};
    expect(launch(function(module, "divergent_barrier"), 1, 32, one) == 719
                   && launchFailure().find("deadlock") != std::string::npos,
           "a __syncthreads in divergent code fails the launch as a deadlock: " + launchFailure());
    expect(launch(function(module, "shuffle_after_exit"), 1, 32, one) == 719
                   && launchFailure().find("exited") != std::string::npos,
           "a full-mask shuffle after a lane exited fails the launch: " + launchFailure());

    // warps run ahead of each other, so a missing __syncthreads before a shared write changes the results
    int* twoSumsOut = nullptr;
    cudaMalloc((void**) &twoSumsOut, 2 * 64 * sizeof(int));
    for (int careful = 1; careful >= 0; careful--) {
        void* twoSums[] = {&twoSumsOut, &careful};
        expect(launch(function(module, "two_sums"), 1, 64, twoSums) == 0, "two_sums launches");
        std::vector<int> got(128);
        cudaMemcpyAsync(got.data(), twoSumsOut, got.size() * sizeof(int), D2H, nullptr);
        bool right = true;
        for (int t = 0; t < 64; t++) right = right && got[t] == 63 * 64 / 2 && got[64 + t] == 63 * 64 / 2 + 64000;
        expect(right == (careful == 1), careful ? "two_sums with its __syncthreads is right for every thread"
                                                : "two_sums without the first __syncthreads shows the race");
    }

    int n = 48;
    void* pastEnd[] = {&floats, &n};
    expect(launch(function(module, "write_past_end"), 1, 1, pastEnd) == 0, "write_past_end launches");
    expect(cudaStreamSynchronize(nullptr) == 700, "a write past an allocation surfaces as cudaErrorIllegalAddress");
    cuModuleUnload(module);
}

void memory() {
    float* p = nullptr;
    expect(cudaMalloc((void**) &p, 10 * sizeof(float)) == 0, "cudaMalloc of 40 bytes");
    std::vector<float> fresh(10);
    cudaMemcpyAsync(fresh.data(), p, 40, D2H, nullptr);
    expect(std::isnan(fresh[0]) && std::isnan(fresh[9]), "fresh device memory reads as NaN");
    std::vector<float> host(11, 1.0f);
    expect(cudaMemcpyAsync(p, host.data(), 44, H2D, nullptr) == 1, "a copy past an allocation is refused");
    expect(cudaGetLastError() == 1 && cudaGetLastError() == 0, "cudaGetLastError reports then clears");
    expect(cudaFree(p + 1) == 1, "freeing an address that was not allocated is refused");
    expect(cudaFree(p) == 0, "cudaFree");
    setenv("PG_EMULATED_DEVICE_BYTES", "4096", 1);
    expect(cudaMalloc((void**) &p, 8192) == 2, "an allocation beyond the device's bytes is cudaErrorMemoryAllocation");
    unsetenv("PG_EMULATED_DEVICE_BYTES");
}

void gemm() {
    // C (2×3) = Aᵀ·B with A stored 4×2 (lda 4) and B 4×3 (ldb 4), column-major, two batches
    const int m = 2, n = 3, k = 4, batch = 2;
    std::vector<float> a(batch * k * m), b(batch * k * n), c(batch * m * n, 0.0f);
    for (std::size_t i = 0; i < a.size(); i++) a[i] = 1.0f + 1.0f / (float) (i + 3);
    for (std::size_t i = 0; i < b.size(); i++) b[i] = 0.5f - (float) i / 7.0f;
    float *dA, *dB, *dC;
    cudaMalloc((void**) &dA, a.size() * 4);
    cudaMalloc((void**) &dB, b.size() * 4);
    cudaMalloc((void**) &dC, c.size() * 4);
    cudaMemcpyAsync(dA, a.data(), a.size() * 4, H2D, nullptr);
    cudaMemcpyAsync(dB, b.data(), b.size() * 4, H2D, nullptr);
    void* handle = nullptr;
    cublasCreate_v2(&handle);
    float alpha = 2.0f, beta = 0.0f;
    int status = cublasSgemmStridedBatched(handle, 1, 0, m, n, k, &alpha, dA, k, k * m, dB, k, k * n, &beta, dC, m,
                                           m * n, batch);
    expect(status == 0, "cublasSgemmStridedBatched(T, N) status " + std::to_string(status));
    cudaMemcpyAsync(c.data(), dC, c.size() * 4, D2H, nullptr);
    double worst = 0;
    for (int s = 0; s < batch; s++) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int l = 0; l < k; l++) sum += (double) a[s * k * m + l + i * k] * b[s * k * n + l + j * k];
                worst = std::fmax(worst, std::fabs(c[s * m * n + i + j * m] - 2 * sum));
            }
        }
    }
    expect(worst < 1e-5, "the emulated GEMM matches a plain column-major product; error " + std::to_string(worst));
    std::vector<float> exact = c;
    cublasSetMathMode(handle, 3);
    cublasSgemmStridedBatched(handle, 1, 0, m, n, k, &alpha, dA, k, k * m, dB, k, k * n, &beta, dC, m, m * n, batch);
    cudaMemcpyAsync(c.data(), dC, c.size() * 4, D2H, nullptr);
    double tf32Error = 0;
    for (std::size_t i = 0; i < c.size(); i++) tf32Error = std::fmax(tf32Error, std::fabs(c[i] - exact[i]));
    expect(tf32Error > 1e-5 && tf32Error < 1e-1, "TF32 math rounds the inputs; error " + std::to_string(tf32Error));
    expect(cublasSgemmStridedBatched(handle, 1, 0, m, n, k, &alpha, dA, k - 1, k * m, dB, k, k * n, &beta, dC, m,
                                     m * n, batch) == 7, "lda below op(A)'s rows is CUBLAS_STATUS_INVALID_VALUE");
    expect(cublasSgemmStridedBatched(handle, 1, 0, m, n, k, &alpha, dA, k, k * m + 1, dB, k, k * n, &beta, dC, m,
                                     m * n, batch) == 13, "a batch stride that reads past A fails the GEMM");
    cublasDestroy_v2(handle);
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
}

// NVIDIA's own NVRTC, loaded beside this driver (src/test/real-nvrtc.sh), asks it for an export table; "not
// supported" with no table lets it go on, where a missing entry point crashed it
void exportTable() {
    const void* table = &failures;
    const char id[16] = {};
    expect(cuGetExportTable(&table, id) == 801 && table == nullptr,
           "cuGetExportTable answers CUDA_ERROR_NOT_SUPPORTED with no table");
    expect(cuGetExportTable(nullptr, id) == 1, "cuGetExportTable without a place for the table is an invalid value");
}

}  // namespace

int main() {
    memory();
    gemm();
    kernels();
    exportTable();
    if (failures > 0) {
        std::fprintf(stderr, "emulator_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("emulator_test: all checks passed\n");
    return 0;
}
