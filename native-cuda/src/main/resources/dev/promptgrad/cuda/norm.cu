// LayerNorm and RMSNorm over the last dimension, forward and input-gradient backward (the gains are frozen).
// One thread block per row (gridDim.x = rows); statistics are reduced in double and rounded once, like the CPU
// backend. Derivations: docs/autograd.md#layernorm and #rmsnorm.
#include "block_reduce.cuh"

// PyTorch: out = (x - x.mean(-1)) / torch.sqrt(x.var(-1, unbiased=False) + eps) * gamma + beta
// beta, mean and rstd may be null.
extern "C" __global__ void layer_norm_f32(const float* x, const float* gamma, const float* beta, float* out,
                                          float* mean, float* rstd, int cols, double eps) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * cols;
    double sum = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += x[row + c];
    double mu = pg_block_sum(sum, scratch) / cols;
    double squares = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double deviation = x[row + c] - mu;
        squares += deviation * deviation;
    }
    double s = 1.0 / sqrt(pg_block_sum(squares, scratch) / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double shift = beta ? (double) beta[c] : 0.0;
        out[row + c] = (float) ((x[row + c] - mu) * s * (double) gamma[c] + shift);
    }
    if (threadIdx.x == 0) {
        if (mean) mean[blockIdx.x] = (float) mu;
        if (rstd) rstd[blockIdx.x] = (float) s;
    }
}

// g = dOut · gamma, xhat = (x − mean) · rstd
// dx = rstd · ((1) g − (2) mean(g) − (3) xhat · mean(g · xhat))
extern "C" __global__ void layer_norm_backward_f32(const float* x, const float* gamma, const float* mean,
                                                   const float* rstd, const float* dOut, float* dx, int cols) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * cols;
    double mu = mean[blockIdx.x], s = rstd[blockIdx.x];
    double sumG = 0.0, sumGX = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double g = (double) dOut[row + c] * gamma[c];
        sumG += g;
        sumGX += g * ((x[row + c] - mu) * s);
    }
    double meanG = pg_block_sum(sumG, scratch) / cols;
    double meanGX = pg_block_sum(sumGX, scratch) / cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double g = (double) dOut[row + c] * gamma[c];
        double xhat = (x[row + c] - mu) * s;
        dx[row + c] = (float) (s * (g - meanG - xhat * meanGX));
    }
}

// PyTorch (Llama): out = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight; rstd may be null
extern "C" __global__ void rms_norm_f32(const float* x, const float* weight, float* out, float* rstd, int cols,
                                        double eps) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * cols;
    double squares = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double v = x[row + c];
        squares += v * v;
    }
    double s = 1.0 / sqrt(pg_block_sum(squares, scratch) / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) out[row + c] = (float) (x[row + c] * s * (double) weight[c]);
    if (threadIdx.x == 0 && rstd) rstd[blockIdx.x] = (float) s;
}

// g = dOut · weight; dx = (1) rstd · g − (2) x · rstd³ · mean(g · x)
extern "C" __global__ void rms_norm_backward_f32(const float* x, const float* weight, const float* rstd,
                                                 const float* dOut, float* dx, int cols) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * cols;
    double s = rstd[blockIdx.x];
    double sumGX = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sumGX += (double) dOut[row + c] * weight[c] * x[row + c];
    double correction = s * s * s * pg_block_sum(sumGX, scratch) / cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        double g = (double) dOut[row + c] * weight[c];
        dx[row + c] = (float) (s * g - x[row + c] * correction);
    }
}
