// Embeddings and the loss: the gather of table rows (float32, or BF16 weights widened exactly), the fused
// cross-entropy (per-row loss plus dLogits) and the row argmax. The cross-entropy and argmax give one thread block to
// one row; its sums run in double.
#include "block_reduce.cuh"

// out[r, c] = table[ids[r], c] for `total` = rows · dim elements. PyTorch: out = table[ids]
extern "C" __global__ void gather_f32(const float* table, const int* ids, float* out, long long total, int dim) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total;
         i += (long long) gridDim.x * blockDim.x) {
        out[i] = table[(long long) ids[i / dim] * dim + i % dim];
    }
}

// As gather_f32 from a BF16 table: each word is the top half of its float's bits. PyTorch: out = table[ids].float()
extern "C" __global__ void gather_bf16(const unsigned short* table, const int* ids, float* out, long long total,
                                       int dim) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total;
         i += (long long) gridDim.x * blockDim.x) {
        out[i] = __uint_as_float((unsigned) table[(long long) ids[i / dim] * dim + i % dim] << 16);
    }
}

// One block per row of logits [rows, vocab]. losses[r] = logsumexp(logits[r]) − logits[r, target], or 0 when the
// target is -100 (ignored). dLogits (null for none; may be logits itself) = dScale · (softmax − onehot(target)),
// zeros on ignored rows. PyTorch: F.cross_entropy(logits, targets, ignore_index=-100, reduction='sum')
extern "C" __global__ void cross_entropy_f32(const float* logits, const int* targets, float* dLogits,
                                             double* losses, int vocab, double dScale) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * vocab;
    int target = targets[blockIdx.x];
    if (target == -100) {
        if (dLogits) for (int v = threadIdx.x; v < vocab; v += blockDim.x) dLogits[row + v] = 0.0f;
        if (threadIdx.x == 0) losses[blockIdx.x] = 0.0;
        return;
    }
    double targetLogit = logits[row + target];   // read before dLogits, which may be logits, is written
    double max = pg_negative_infinity();
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) max = fmax(max, (double) logits[row + v]);
    max = pg_block_max(max, scratch);
    double sum = 0.0;
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) sum += exp(logits[row + v] - max);
    double logSum = max + log(pg_block_sum(sum, scratch));
    if (threadIdx.x == 0) losses[blockIdx.x] = logSum - targetLogit;
    if (dLogits) {
        for (int v = threadIdx.x; v < vocab; v += blockDim.x) {
            double p = exp(logits[row + v] - logSum);
            dLogits[row + v] = (float) (dScale * (v == target ? p - 1.0 : p));
        }
    }
}

// best[r] = the column of the largest element of row r of x [rows, cols]; ties go to the lowest column.
// One block per row; blockDim.x must be a multiple of 32.
extern "C" __global__ void argmax_f32(const float* x, int* best, int cols) {
    __shared__ float values[32];
    __shared__ int indices[32];
    long long row = (long long) blockIdx.x * cols;
    float value = 0.0f;
    int index = -1;   // -1: this thread has seen no element
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = x[row + c];
        if (index < 0 || v > value) {   // strictly greater: a thread sees its columns in increasing order
            value = v;
            index = c;
        }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int round = 0; round < 2; round++) {
        for (int offset = 16; offset > 0; offset >>= 1) {
            float otherValue = __shfl_down_sync(0xffffffffu, value, offset);
            int otherIndex = __shfl_down_sync(0xffffffffu, index, offset);
            bool better = otherIndex >= 0
                    && (index < 0 || otherValue > value || (otherValue == value && otherIndex < index));
            if (better) {
                value = otherValue;
                index = otherIndex;
            }
        }
        if (round == 1) break;
        if (lane == 0) {
            values[warp] = value;
            indices[warp] = index;
        }
        __syncthreads();
        if (warp != 0) return;
        value = lane < warps ? values[lane] : 0.0f;
        index = lane < warps ? indices[lane] : -1;
    }
    if (threadIdx.x == 0) best[blockIdx.x] = index;
}
