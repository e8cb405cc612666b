// The attention pieces of the Backend SPI that are not GEMMs: masked scaled softmax and its backward (one thread
// block per row of keys), rotary position embedding (one thread per rotated pair) and axis permutation (one thread
// per output element). Softmax sums run in double; RoPE angles are computed in double, like the CPU backend.
#include "block_reduce.cuh"

// scores, probs: [batch, heads, queries, keys], one block per row; keyMask [batch, keys] (1 attend, 0 pad) or null.
// Query q sees keys j <= q + (keys - queries) when causal. A row with no visible key becomes zeros.
// PyTorch: probs = torch.softmax((scale * scores).masked_fill(~visible, -inf), dim=-1); probs may be scores.
extern "C" __global__ void softmax_f32(const float* scores, const float* keyMask, float* probs, int heads,
                                       int queries, int keys, double scale, int causal) {
    __shared__ double scratch[32];
    int r = blockIdx.x;
    int batch = r / (heads * queries), query = r % queries;
    long long row = (long long) r * keys;
    const float* mask = keyMask ? keyMask + (long long) batch * keys : 0;
    long long end = causal ? (long long) query + keys - queries + 1 : keys;
    int visibleEnd = (int) (end < 0 ? 0 : end > keys ? keys : end);
    double max = pg_negative_infinity();
    for (int j = threadIdx.x; j < visibleEnd; j += blockDim.x) {
        if (mask && mask[j] == 0.0f) continue;
        max = fmax(max, scale * scores[row + j]);
    }
    max = pg_block_max(max, scratch);
    if (max == pg_negative_infinity()) {
        for (int j = threadIdx.x; j < keys; j += blockDim.x) probs[row + j] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int j = threadIdx.x; j < visibleEnd; j += blockDim.x) {
        if (mask && mask[j] == 0.0f) continue;
        sum += exp(scale * scores[row + j] - max);
    }
    double inverse = 1.0 / pg_block_sum(sum, scratch);
    for (int j = threadIdx.x; j < keys; j += blockDim.x) {
        bool visible = j < visibleEnd && !(mask && mask[j] == 0.0f);
        probs[row + j] = visible ? (float) (exp(scale * scores[row + j] - max) * inverse) : 0.0f;
    }
}

// dScores = scale · p · ((1) dProbs − (2) Σ_j p·dProbs), one block per row; dScores may be dProbs.
extern "C" __global__ void softmax_backward_f32(const float* probs, const float* dProbs, float* dScores, int keys,
                                                double scale) {
    __shared__ double scratch[32];
    long long row = (long long) blockIdx.x * keys;
    double dot = 0.0;
    for (int j = threadIdx.x; j < keys; j += blockDim.x) dot += (double) probs[row + j] * dProbs[row + j];
    dot = pg_block_sum(dot, scratch);
    for (int j = threadIdx.x; j < keys; j += blockDim.x) {
        dScores[row + j] = (float) (scale * probs[row + j] * ((double) dProbs[row + j] - dot));
    }
}

// x, out: [batch, heads, steps, headSize]; `pairs` = rows · headSize/2, one thread per pair.
// Pair j of time step t turns by p · inverseFrequencies[j] (θ^(−2j/headSize) without RoPE scaling; the opposite
// way when inverse), where p is
// positions[t] when every sequence shares them (sequenceRows 0), else positions[b · steps + t] for the
// sequence b of row r (sequenceRows = heads · steps rows per sequence).
// interleaved: pair j is (2j, 2j + 1) (llama2.c); otherwise (j, j + headSize/2) (Hugging Face rotate_half).
// PyTorch (HF): q * cos + rotate_half(q) * sin; out may be x.
extern "C" __global__ void rope_f32(const float* x, float* out, const int* positions, long long pairs, int steps,
                                    int headSize, const double* inverseFrequencies, int interleaved, int inverse,
                                    long long sequenceRows) {
    int half = headSize / 2;
    for (long long p = blockIdx.x * (long long) blockDim.x + threadIdx.x; p < pairs;
         p += (long long) gridDim.x * blockDim.x) {
        long long r = p / half;
        int j = (int) (p % half);
        long long t = r % steps;
        if (sequenceRows > 0) t += r / sequenceRows * steps;
        double angle = positions[t] * inverseFrequencies[j];
        double s, c;
        sincos(angle, &s, &c);
        if (inverse) s = -s;
        long long first = r * headSize + (interleaved ? 2 * j : j);
        long long second = first + (interleaved ? 1 : half);
        double a = x[first], b = x[second];
        out[first] = (float) (a * c - b * s);
        out[second] = (float) (a * s + b * c);
    }
}

// out[i0, i1, i2, i3, i4] = x[i0·s0 + i1·s1 + i2·s2 + i3·s3 + i4·s4] over `total` elements of out, whose last
// four dimensions are o1..o4 (rank < 5 is padded with leading 1s by the caller); the s are x's element strides.
extern "C" __global__ void permute_f32(const float* x, float* out, long long total, int o1, int o2, int o3, int o4,
                                       long long s0, long long s1, long long s2, long long s3, long long s4) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total;
         i += (long long) gridDim.x * blockDim.x) {
        long long rest = i;
        long long i4 = rest % o4;
        rest /= o4;
        long long i3 = rest % o3;
        rest /= o3;
        long long i2 = rest % o2;
        rest /= o2;
        long long i1 = rest % o1, i0 = rest / o1;
        out[i] = x[i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4];
    }
}
