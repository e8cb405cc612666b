// The test-only emulated libcublas.so.13 (and, built with -DPG_CUBLAS_LT, the libcublasLt.so.13 it needs): handles,
// math modes and cublasSgemmStridedBatched as cuBLAS documents it (column-major, op(A) m×k, op(B) k×n, C m×n,
// lda/ldb/ldc checked, beta 0 never reads C), accumulated in double. With CUBLAS_TF32_TENSOR_OP_MATH the inputs are
// first rounded to TF32's 10 mantissa bits, as tensor cores do. Every operand must lie inside emulated device
// memory. It is not cuBLAS; build.sh says how it is used.
#include "status_names.h"
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

// cublasStatus_t values (cublas_api.h)
constexpr int CUBLAS_STATUS_SUCCESS = 0;
constexpr int CUBLAS_STATUS_NOT_INITIALIZED = 1;
constexpr int CUBLAS_STATUS_INVALID_VALUE = 7;
constexpr int CUBLAS_STATUS_EXECUTION_FAILED = 13;
// cublasOperation_t
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
// cublasMath_t
constexpr int CUBLAS_TF32_TENSOR_OP_MATH = 3;

struct Handle {
    void* stream;
    int mathMode;
};

const pg_emulator::StatusName NAMES[] = {
    {CUBLAS_STATUS_SUCCESS, "CUBLAS_STATUS_SUCCESS", "success"},
    {CUBLAS_STATUS_NOT_INITIALIZED, "CUBLAS_STATUS_NOT_INITIALIZED", "the library was not initialized"},
    {CUBLAS_STATUS_INVALID_VALUE, "CUBLAS_STATUS_INVALID_VALUE", "an unsupported value or parameter was passed"},
    {CUBLAS_STATUS_EXECUTION_FAILED, "CUBLAS_STATUS_EXECUTION_FAILED",
     "the GPU program failed to execute (emulator: an operand lies outside device memory; see stderr)"},
};

}  // namespace

#ifdef PG_CUBLAS_LT
extern "C" {
const char* cublasLtGetStatusName(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->name : "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasLtGetStatusString(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->text : "unknown status";
}

std::size_t cublasLtGetVersion() {
    return 130100;
}
}
#else
extern "C" bool pg_emulated_device_range(const void* p, std::size_t bytes);   // runtime.cpp

namespace {

// Whether the column-major rows×cols operand with leading dimension ld, `batch` of them `stride` apart, lies in
// device memory; reports the operand otherwise.
bool operandInside(const char* what, const float* p, long long rows, long long cols, long long ld, long long stride,
                   int batch) {
    if (rows == 0 || cols == 0 || batch == 0) return true;
    long long last = (long long) (batch - 1) * stride + (cols - 1) * ld + (rows - 1);
    if (stride < 0 || !pg_emulated_device_range(p, (std::size_t) (last + 1) * sizeof(float))) {
        std::fprintf(stderr, "emulated cuBLAS: operand %s (%lld×%lld, ld %lld, stride %lld, batch %d) reaches "
                     "outside its device allocation\n", what, rows, cols, ld, stride, batch);
        return false;
    }
    return true;
}

// Round to nearest even at TF32's 10 explicit mantissa bits (13 low bits of the float dropped).
double tf32(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7f800000u) != 0x7f800000u) {   // finite: infinities and NaN pass unchanged
        bits += 0xfffu + ((bits >> 13) & 1u);
        bits &= ~0x1fffu;
    }
    float rounded;
    std::memcpy(&rounded, &bits, sizeof rounded);
    return rounded;
}

}  // namespace

extern "C" {

int cublasCreate_v2(Handle** handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new Handle{nullptr, 0};
    return CUBLAS_STATUS_SUCCESS;
}

int cublasDestroy_v2(Handle* handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

int cublasSetStream_v2(Handle* handle, void* stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

int cublasSetMathMode(Handle* handle, int mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->mathMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->name : "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->text : "unknown status";
}

int cublasSgemmStridedBatched(Handle* handle, int transa, int transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, long long strideA, const float* B, int ldb, long long strideB,
                              const float* beta, float* C, int ldc, long long strideC, int batchCount) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    bool ta = transa == CUBLAS_OP_T, tb = transb == CUBLAS_OP_T;
    if ((transa != CUBLAS_OP_N && !ta) || (transb != CUBLAS_OP_N && !tb) || m < 0 || n < 0 || k < 0
            || batchCount < 0 || !alpha || !beta) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
    if (lda < (aRows > 1 ? aRows : 1) || ldb < (bRows > 1 ? bRows : 1) || ldc < (m > 1 ? m : 1)) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!operandInside("C", C, m, n, ldc, strideC, batchCount)) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (k > 0 && *alpha != 0.0f && (!operandInside("A", A, aRows, aCols, lda, strideA, batchCount)
            || !operandInside("B", B, bRows, bCols, ldb, strideB, batchCount))) {
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    bool roundInputs = handle->mathMode == CUBLAS_TF32_TENSOR_OP_MATH;
    double a = *alpha, b = *beta;
    for (int batch = 0; batch < batchCount; batch++) {
        const float* Ab = A + batch * strideA;
        const float* Bb = B + batch * strideB;
        float* Cb = C + batch * strideC;
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double sum = 0.0;
                if (a != 0.0) {
                    for (int l = 0; l < k; l++) {
                        float x = ta ? Ab[l + (long long) i * lda] : Ab[i + (long long) l * lda];
                        float y = tb ? Bb[j + (long long) l * ldb] : Bb[l + (long long) j * ldb];
                        sum += roundInputs ? tf32(x) * tf32(y) : (double) x * y;
                    }
                }
                float& c = Cb[i + (long long) j * ldc];
                c = (float) (a * sum + (b == 0.0 ? 0.0 : b * c));
            }
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
#endif
