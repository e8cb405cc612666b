// Block-wide reductions for the kernels that give one thread block to one row (norms, softmax, cross-entropy).
// Every thread of the block must call them, with the same `scratch` (32 shared doubles); every thread gets the
// result. Sums run in double so that float rows of tens of thousands of elements lose nothing to rounding.
// No includes: NVRTC compiles this without the host headers nvcc would add.
#pragma once

// -infinity as a double, without <math.h>'s INFINITY (NVRTC has no host headers)
__device__ __forceinline__ double pg_negative_infinity() {
    return __longlong_as_double(0xfff0000000000000LL);
}

__device__ __forceinline__ double pg_warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ double pg_warp_max(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, offset));
    return v;
}

// Sum of `v` over the block. blockDim.x must be a multiple of 32 (at most 1024).
__device__ double pg_block_sum(double v, double* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = pg_warp_sum(v);
    __syncthreads();                  // an earlier reduction may still be reading scratch[0]
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : 0.0;
        v = pg_warp_sum(v);
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}

// Maximum of `v` over the block (-infinity when every thread passes -infinity).
__device__ double pg_block_max(double v, double* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = pg_warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : pg_negative_infinity();
        v = pg_warp_max(v);
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}
