// Element-wise kernels of the Backend SPI (fill, add, scale, activations, SwiGLU), the column sums of sumRows, and
// the widening of BF16 weight slices to float32 scratch for cuBLAS. Each element is computed in double from float
// inputs and rounded to float once, as the CPU backend does.
// Flat kernels walk their n elements with a grid-stride loop, so any grid size covers any n.
// Activation codes (the `op` argument) follow dev.promptgrad.cuda.CudaBackend: 0 GELU_TANH, 1 GELU_ERF, 2 SILU.

#define PG_GRID_STRIDE_LOOP(i, n) \
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < (n); \
         i += (long long) gridDim.x * blockDim.x)

__device__ __forceinline__ double pg_sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

// 0.7978845608028654 = sqrt(2 / pi); 0.7071067811865476 = 1 / sqrt(2); 0.3989422804014327 = 1 / sqrt(2 pi)
__device__ double pg_activation(int op, double x) {
    switch (op) {
        case 0:   // GPT-2's gelu_new, 0.5·x·(1 + tanh(u)) written as x·σ(2u)
            return x * pg_sigmoid(2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x));
        case 1:   // exact GELU: 0.5·x·(1 + erf(x/√2))
            return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
        default:  // SiLU: x·σ(x)
            return x / (1.0 + exp(-x));
    }
}

__device__ double pg_activation_derivative(int op, double x) {
    switch (op) {
        case 0: {  // 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·u' with s = σ(2u): s + 2·x·s·(1 − s)·u'
            double s = pg_sigmoid(2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x));
            double du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x);
            return s + 2.0 * x * s * (1.0 - s) * du;
        }
        case 1:
            return 0.5 * (1.0 + erf(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
        default: {
            double s = pg_sigmoid(x);
            return s * (1.0 + x * (1.0 - s));
        }
    }
}

extern "C" __global__ void fill_f32(float* dst, long long n, float value) {
    PG_GRID_STRIDE_LOOP(i, n) dst[i] = value;
}

// out[i] = a[i] + b[i mod period]; out may be a (or b when period == n)
extern "C" __global__ void add_f32(const float* a, const float* b, float* out, long long n, long long period) {
    PG_GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i % period];
}

// out = alpha · x; out may be x
extern "C" __global__ void scale_f32(const float* x, float* out, long long n, double alpha) {
    PG_GRID_STRIDE_LOOP(i, n) out[i] = (float) (alpha * (double) x[i]);
}

// C[b] = beta · C[b] for `batch` matrices of `size` elements, `stride` apart: a GEMM with k = 0.
// beta 0 writes zeros without reading C, which may hold NaN.
extern "C" __global__ void scale_batched_f32(float* c, long long size, long long stride, int batch, float beta) {
    PG_GRID_STRIDE_LOOP(i, size * batch) {
        float* element = c + (i / size) * stride + i % size;
        *element = beta == 0.0f ? 0.0f : beta * *element;
    }
}

// dst = a slice of a BF16 weight widened exactly to float32: `total` = matrices · runs · runLength words, matrix j's
// run r starting at word j · matrixStride + r · runStride of src, written back to back. A bfloat16 word is the top
// half of its float's bits. PyTorch: dst = src[...].float()
extern "C" __global__ void widen_bf16(const unsigned short* src, float* dst, long long total, int runLength,
                                      long long runs, long long runStride, long long matrixStride) {
    PG_GRID_STRIDE_LOOP(i, total) {
        long long run = i / runLength;   // over all matrices
        long long word = run / runs * matrixStride + run % runs * runStride + i % runLength;
        dst[i] = __uint_as_float((unsigned) src[word] << 16);
    }
}

// out[c] (+)= Σ_r x[r, c]. Blocks of 32 × 8 threads: threadIdx.x picks a column of the block's 32,
// threadIdx.y a stripe of rows; the 8 partial sums meet in shared memory.
extern "C" __global__ void sum_rows_f32(const float* x, float* out, int rows, int cols, int accumulate) {
    __shared__ double partial[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    double sum = 0.0;
    if (col < cols) {
        for (int r = threadIdx.y; r < rows; r += 8) sum += x[(long long) r * cols + col];
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        double total = 0.0;
        for (int y = 0; y < 8; y++) total += partial[y][threadIdx.x];
        if (accumulate) total += out[col];
        out[col] = (float) total;
    }
}

// out = op(x); out may be x
extern "C" __global__ void unary_f32(const float* x, float* out, long long n, int op) {
    PG_GRID_STRIDE_LOOP(i, n) out[i] = (float) pg_activation(op, x[i]);
}

// dx = dOut · op'(x); dx may be dOut
extern "C" __global__ void unary_backward_f32(const float* x, const float* dOut, float* dx, long long n, int op) {
    PG_GRID_STRIDE_LOOP(i, n) dx[i] = (float) ((double) dOut[i] * pg_activation_derivative(op, x[i]));
}

// PyTorch: out = F.silu(gate) * up
extern "C" __global__ void swiglu_f32(const float* gate, const float* up, float* out, long long n) {
    PG_GRID_STRIDE_LOOP(i, n) {
        double g = gate[i];
        out[i] = (float) (g / (1.0 + exp(-g)) * (double) up[i]);
    }
}

// dGate = dOut · up · silu'(gate), dUp = dOut · silu(gate); either output may be null
extern "C" __global__ void swiglu_backward_f32(const float* gate, const float* up, const float* dOut, float* dGate,
                                               float* dUp, long long n) {
    PG_GRID_STRIDE_LOOP(i, n) {
        double g = gate[i], d = dOut[i];
        double s = pg_sigmoid(g);
        if (dGate) dGate[i] = (float) (d * (double) up[i] * s * (1.0 + g * (1.0 - s)));
        if (dUp) dUp[i] = (float) (d * g * s);
    }
}
