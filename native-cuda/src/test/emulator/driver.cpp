// The test-only emulated libcuda.so.1: the driver calls the backend makes. A "module" is the shared object the
// emulated NVRTC built from a .cu source; loading it dlopens it, a "function" is its generated entry for one
// kernel, and cuLaunchKernel checks the launch geometry as the driver does and runs the blocks on this thread
// (emulated_device.h). A kernel that fails (deadlock, bad shuffle) returns CUDA_ERROR_LAUNCH_FAILED, and
// cuGetErrorString then says why. It is not the CUDA driver; build.sh says how it is used.
#include "status_names.h"
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <dlfcn.h>
#include <unistd.h>

namespace {

// CUresult values (cuda.h)
constexpr int CUDA_SUCCESS = 0;
constexpr int CUDA_ERROR_INVALID_VALUE = 1;
constexpr int CUDA_ERROR_INVALID_DEVICE = 101;
constexpr int CUDA_ERROR_INVALID_IMAGE = 200;
constexpr int CUDA_ERROR_INVALID_HANDLE = 400;
constexpr int CUDA_ERROR_NOT_FOUND = 500;
constexpr int CUDA_ERROR_LAUNCH_FAILED = 719;
constexpr int CUDA_ERROR_NOT_SUPPORTED = 801;

constexpr char IMAGE_MAGIC[8] = {'P', 'G', 'E', 'M', 'U', '1', 0, 0};   // nvrtc.cpp writes it

using Entry = int (*)(const unsigned* grid, const unsigned* block, void** params, char* message,
                      unsigned long messageSize);

struct Module {
    void* library;
};

struct Function {
    Entry entry;
    std::string name;
};

std::mutex launchLock;        // blocks use static shared memory: one launch at a time per process
thread_local std::string lastFailure = "unspecified launch failure";
int primaryContext;           // its address is the context handle

const pg_emulator::StatusName NAMES[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", nullptr},
};

}  // namespace

extern "C" {

int cuInit(unsigned flags) {
    return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The driver's private tables, which NVIDIA's libraries look up by id. NVIDIA's NVRTC 13 does so when it finds a
// libcuda.so.1 whose cuInit succeeds; answering "not supported" lets the real NVRTC run beside this emulator.
int cuGetExportTable(const void** table, const void* id) {
    if (!table || !id) return CUDA_ERROR_INVALID_VALUE;
    *table = nullptr;
    return CUDA_ERROR_NOT_SUPPORTED;
}

int cuDriverGetVersion(int* version) {
    if (!version) return CUDA_ERROR_INVALID_VALUE;
    *version = 13010;
    return CUDA_SUCCESS;
}

int cuDeviceGet(int* device, int ordinal) {
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

int cuDeviceGetName(char* name, int length, int device) {
    if (!name || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (std::size_t) length, "%s", "promptgrad test emulator of a CUDA device (CPU)");
    return CUDA_SUCCESS;
}

int cuDevicePrimaryCtxRetain(void** context, int device) {
    if (!context) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    *context = &primaryContext;
    return CUDA_SUCCESS;
}

int cuDevicePrimaryCtxRelease_v2(int device) {
    return device == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

int cuCtxSetCurrent(void* context) {
    return context == nullptr || context == &primaryContext ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

int cuModuleLoadData(Module** module, const void* image) {
    if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
    const auto* bytes = static_cast<const unsigned char*>(image);
    if (std::memcmp(bytes, IMAGE_MAGIC, sizeof IMAGE_MAGIC) != 0) return CUDA_ERROR_INVALID_IMAGE;
    std::uint64_t length;
    std::memcpy(&length, bytes + sizeof IMAGE_MAGIC, sizeof length);
    char path[] = "/tmp/pg-emulated-module-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return CUDA_ERROR_INVALID_IMAGE;
    const unsigned char* library = bytes + sizeof IMAGE_MAGIC + sizeof length;
    bool written = write(fd, library, length) == (ssize_t) length;
    close(fd);
    void* handle = written ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!handle && written) std::fprintf(stderr, "emulated CUDA: cuModuleLoadData: %s\n", dlerror());
    unlink(path);
    if (!handle) return CUDA_ERROR_INVALID_IMAGE;
    *module = new Module{handle};
    return CUDA_SUCCESS;
}

int cuModuleGetFunction(Function** function, Module* module, const char* name) {
    if (!function || !module || !name) return CUDA_ERROR_INVALID_VALUE;
    std::string symbol = std::string("pg_emulated_entry_") + name;
    void* entry = dlsym(module->library, symbol.c_str());
    if (!entry) return CUDA_ERROR_NOT_FOUND;
    *function = new Function{reinterpret_cast<Entry>(entry), name};
    return CUDA_SUCCESS;
}

int cuModuleUnload(Module* module) {
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    dlclose(module->library);
    delete module;
    return CUDA_SUCCESS;
}

int cuLaunchKernel(Function* function, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX,
                   unsigned blockY, unsigned blockZ, unsigned sharedBytes, void* stream, void** params,
                   void** extra) {
    if (!function) return CUDA_ERROR_INVALID_HANDLE;
    // the limits of every GPU since compute capability 3.0
    bool geometry = gridX >= 1 && gridY >= 1 && gridZ >= 1 && gridX <= 0x7fffffffu && gridY <= 65535
            && gridZ <= 65535 && blockX >= 1 && blockY >= 1 && blockZ >= 1 && blockX <= 1024 && blockY <= 1024
            && blockZ <= 64 && (unsigned long long) blockX * blockY * blockZ <= 1024;
    if (!geometry || sharedBytes != 0 || extra != nullptr || (params == nullptr)) {
        lastFailure = "bad launch of " + function->name;
        return CUDA_ERROR_INVALID_VALUE;
    }
    (void) stream;
    const unsigned grid[3] = {gridX, gridY, gridZ}, block[3] = {blockX, blockY, blockZ};
    char message[1024];
    std::lock_guard<std::mutex> guard(launchLock);
    if (function->entry(grid, block, params, message, sizeof message) != 0) {
        lastFailure = "emulated kernel " + function->name + " failed: " + message;
        std::fprintf(stderr, "emulated CUDA: %s\n", lastFailure.c_str());
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}

int cuGetErrorName(int status, const char** name) {
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *name = n->name;
    return CUDA_SUCCESS;
}

int cuGetErrorString(int status, const char** text) {
    if (!text) return CUDA_ERROR_INVALID_VALUE;
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *text = n->text ? n->text : lastFailure.c_str();
    return CUDA_SUCCESS;
}

}  // extern "C"
