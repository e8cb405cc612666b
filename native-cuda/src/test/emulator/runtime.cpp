// The test-only emulated libcudart.so.13: the CUDA runtime calls the backend makes, over host memory. One device
// of compute capability 9.0 whose memory is malloc'ed: fresh memory is all-ones bits (NaN as float), like the
// garbage cudaMalloc may return, and each allocation sits between guard bytes that are checked when it is freed and
// at every synchronisation, so a kernel that writes past its buffer fails as cudaErrorIllegalAddress would.
// Work is synchronous, so streams are only handles. It is not the CUDA runtime; build.sh says how it is used.
#include "status_names.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace {

// cudaError_t values (driver_types.h)
constexpr int cudaSuccess = 0;
constexpr int cudaErrorInvalidValue = 1;
constexpr int cudaErrorMemoryAllocation = 2;
constexpr int cudaErrorInvalidDevice = 101;
constexpr int cudaErrorIllegalAddress = 700;
// cudaDeviceAttr values
constexpr int cudaDevAttrComputeCapabilityMajor = 75;
constexpr int cudaDevAttrComputeCapabilityMinor = 76;
// cudaMemcpyKind
constexpr int cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
              cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4;

constexpr std::size_t GUARD = 256;        // guard bytes on each side; also the alignment
constexpr unsigned char POISON = 0xff;    // fresh memory and guards: NaN as float

struct Allocation {
    std::size_t bytes;      // as asked
    std::size_t padded;     // rounded up to GUARD; the bytes between are guard too
    unsigned char* base;    // what malloc returned: GUARD bytes before the user's pointer
};

std::mutex lock;
std::map<std::uintptr_t, Allocation> allocations;   // by user address
std::size_t usedBytes = 0;
int lastError = cudaSuccess;
int stickyError = cudaSuccess;

std::size_t capacity() {
    const char* text = std::getenv("PG_EMULATED_DEVICE_BYTES");
    return text ? std::strtoull(text, nullptr, 10) : (std::size_t) 8 << 30;
}

int fail(int status) {
    lastError = status;
    return status;
}

// The first allocation whose guard bytes changed, reported on stderr; false when all are intact.
bool guardsDamaged() {
    for (auto& [address, a] : allocations) {
        const unsigned char* user = a.base + GUARD;
        for (std::size_t i = 0; i < GUARD; i++) {
            if (a.base[i] != POISON) {
                std::fprintf(stderr, "emulated CUDA: %zu bytes before the allocation at 0x%lx (%zu bytes) were "
                             "written\n", GUARD - i, (unsigned long) address, a.bytes);
                return true;
            }
        }
        for (std::size_t i = a.bytes; i < a.padded + GUARD; i++) {
            if (user[i] != POISON) {
                std::fprintf(stderr, "emulated CUDA: byte %zu of the allocation at 0x%lx, which has %zu bytes, was "
                             "written\n", i, (unsigned long) address, a.bytes);
                return true;
            }
        }
    }
    return false;
}

// Whether [p, p + bytes) lies inside one live allocation.
bool inside(const void* p, std::size_t bytes) {
    auto address = (std::uintptr_t) p;
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + it->second.bytes;
}

int synchronise() {
    if (stickyError != cudaSuccess) return fail(stickyError);
    if (guardsDamaged()) {
        stickyError = cudaErrorIllegalAddress;
        return fail(stickyError);
    }
    return cudaSuccess;
}

const pg_emulator::StatusName NAMES[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress",
     "an illegal memory access was encountered (emulator: a guard byte was overwritten; see stderr)"},
};

}  // namespace

extern "C" {

// For the emulated cuBLAS: whether a matrix operand lies inside device memory.
bool pg_emulated_device_range(const void* p, std::size_t bytes) {
    std::lock_guard<std::mutex> guard(lock);
    return inside(p, bytes);
}

int cudaDriverGetVersion(int* version) {
    if (!version) return fail(cudaErrorInvalidValue);
    *version = 13010;
    return cudaSuccess;
}

int cudaRuntimeGetVersion(int* version) {
    if (!version) return fail(cudaErrorInvalidValue);
    *version = 13010;
    return cudaSuccess;
}

int cudaGetDeviceCount(int* count) {
    if (!count) return fail(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

int cudaSetDevice(int device) {
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

int cudaSetDeviceFlags(unsigned) {
    return cudaSuccess;
}

int cudaDeviceGetAttribute(int* value, int attribute, int device) {
    if (!value) return fail(cudaErrorInvalidValue);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    if (attribute == cudaDevAttrComputeCapabilityMajor) *value = 9;
    else if (attribute == cudaDevAttrComputeCapabilityMinor) *value = 0;
    else return fail(cudaErrorInvalidValue);   // not emulated: fail loudly rather than invent a value
    return cudaSuccess;
}

int cudaGetLastError() {
    int status = lastError;
    lastError = stickyError;
    return status;
}

const char* cudaGetErrorName(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->name : "cudaErrorUnknown";
}

const char* cudaGetErrorString(int status) {
    const pg_emulator::StatusName* n = pg_emulator::find_status(NAMES, status);
    return n ? n->text : "unknown error";
}

int cudaStreamCreateWithFlags(void** stream, unsigned) {
    if (!stream) return fail(cudaErrorInvalidValue);
    *stream = std::malloc(1);
    return cudaSuccess;
}

int cudaStreamDestroy(void* stream) {
    std::free(stream);
    return cudaSuccess;
}

int cudaStreamSynchronize(void*) {
    std::lock_guard<std::mutex> guard(lock);
    return synchronise();
}

int cudaMalloc(void** pointer, std::size_t bytes) {
    if (!pointer) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> guard(lock);
    if (bytes == 0) {
        *pointer = nullptr;
        return cudaSuccess;
    }
    std::size_t padded = (bytes + GUARD - 1) / GUARD * GUARD;
    if (usedBytes + padded > capacity()) return fail(cudaErrorMemoryAllocation);
    auto* base = static_cast<unsigned char*>(std::aligned_alloc(GUARD, padded + 2 * GUARD));
    if (!base) return fail(cudaErrorMemoryAllocation);
    std::memset(base, POISON, padded + 2 * GUARD);
    unsigned char* user = base + GUARD;
    allocations[(std::uintptr_t) user] = Allocation{bytes, padded, base};
    usedBytes += padded;
    *pointer = user;
    return cudaSuccess;
}

int cudaFree(void* pointer) {
    if (!pointer) return cudaSuccess;
    std::lock_guard<std::mutex> guard(lock);
    auto it = allocations.find((std::uintptr_t) pointer);
    if (it == allocations.end()) return fail(cudaErrorInvalidValue);
    int status = synchronise();
    usedBytes -= it->second.padded;
    std::free(it->second.base);
    allocations.erase(it);
    return status;
}

int cudaMemGetInfo(std::size_t* free, std::size_t* total) {
    if (!free || !total) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> guard(lock);
    *total = capacity();
    *free = capacity() - usedBytes;
    return cudaSuccess;
}

int cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, int kind, void*) {
    std::lock_guard<std::mutex> guard(lock);
    if (bytes == 0) return cudaSuccess;
    bool srcOnDevice = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    bool dstOnDevice = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyHostToHost || kind == cudaMemcpyDefault || kind < 0 || kind > cudaMemcpyDefault) {
        return fail(cudaErrorInvalidValue);   // the backend never asks for these
    }
    if ((srcOnDevice && !inside(src, bytes)) || (dstOnDevice && !inside(dst, bytes))) {
        std::fprintf(stderr, "emulated CUDA: cudaMemcpyAsync of %zu bytes reaches outside a device allocation\n",
                     bytes);
        return fail(cudaErrorInvalidValue);
    }
    std::memmove(dst, src, bytes);
    return srcOnDevice && !dstOnDevice ? synchronise() : cudaSuccess;
}

}  // extern "C"
