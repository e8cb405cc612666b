package dev.promptgrad.cuda;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.BackendUnavailableException;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.KernelContract;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The CUDA backend: the same float32 kernels as the CPU backend, on one NVIDIA GPU. Matrix products are cuBLAS
 * strided-batched SGEMMs (row-major products expressed once in cuBLAS's column-major terms, see
 * {@link ColumnMajorGemm}; a BF16 weight operand is widened to float32 first, see {@link WidenedWeightGemm}); every
 * other kernel is CUDA C++ from the {@code .cu} resources, compiled at first use by NVRTC for this GPU's own sm_XY
 * and cached for the process. Element-wise results and row reductions are computed in double and rounded once, as
 * on the CPU, so the contract suite holds both to the same tolerances.
 *
 * <h2>Execution</h2>
 * All work goes to one CUDA stream, in call order; kernels return before the GPU has run them. {@code download},
 * {@code crossEntropy}, {@code argmax} and {@link #synchronize()} wait for the stream, and that is where an
 * asynchronous fault surfaces (as a {@link CudaException} naming cudaStreamSynchronize). With
 * {@link Options#checkEveryKernel()} every launch is followed by a wait, so a fault names its kernel (slow; for
 * debugging and the device check). Uploads from Java arrays return once the driver has taken the data. Every
 * runtime, driver, cuBLAS and NVRTC status is checked. Drive one backend from one thread at a time; switching
 * threads is allowed (the context is made current on the new thread).
 *
 * <h2>Memory</h2>
 * Buffers come from a {@link CachingAllocator}: released blocks are kept for reuse rather than returned to
 * cudaFree, and all cached memory is freed once before an allocation fails with {@link OutOfMemoryError}.
 * {@link #liveBytes()} counts the bytes of buffers not yet released (the contract's number, comparable to
 * {@code torch.cuda.memory_allocated}); {@link #reservedBytes()} adds the cache ({@code memory_reserved}); both
 * have peaks. cuBLAS's own workspace and the CUDA context are not counted. {@link #close()} frees everything.
 * A product with a BF16 weight widens it into scratch from the same allocator, at most {@link #WIDEN_TILE_BYTES}
 * (64 MiB) per tile of the weight, given back to the cache when the call returns; it counts in
 * {@link #reservedBytes()}, not in {@link #liveBytes()}.
 *
 * <h2>Precision</h2>
 * float32 arithmetic throughout. BF16 is a storage type for frozen weights only: BF16 tensors hold raw bfloat16
 * words (uploads round to nearest, ties to even; downloads widen exactly), a matrix product takes one as its A or B
 * and a gather as its table, each widening the words exactly to float32 on the device, and every other kernel
 * refuses them. {@link Options#tf32()} lets cuBLAS use TF32 tensor cores for the matrix products only
 * (10-bit mantissa inputs, float32 accumulation: about 1e-3 relative error, faster on Ampere and newer); the
 * contract suite runs without it. The environment variable {@code NVIDIA_TF32_OVERRIDE=0} disables TF32 globally.
 *
 * <h2>Requirements</h2>
 * An NVIDIA driver for CUDA 13, the CUDA 13 runtime, cuBLAS and NVRTC libraries on the library path (or
 * {@code org.bytedeco:cuda-platform-redist} on the class path), and a GPU of compute capability 7.5 or newer;
 * {@link CudaAvailability} says which is missing. F32 and BF16 tensors ({@code supports(F64)} is false).
 */
public final class CudaBackend implements Backend {

    /**
     * {@code device}: the CUDA device index. {@code tf32}: cuBLAS may use TF32 tensor cores. {@code checkEveryKernel}:
     * wait after every launch and check its status, so that a failing kernel is named (slow).
     */
    public record Options(int device, boolean tf32, boolean checkEveryKernel) {
        public Options {
            if (device < 0) throw new IllegalArgumentException("CudaBackend.Options: device " + device + " must be ≥ 0");
        }

        /** Device 0, plain float32, asynchronous. */
        public static Options defaults() {
            return new Options(0, false, false);
        }
    }

    /** Threads per block of element-wise kernels. */
    static final int ELEMENT_THREADS = 256;
    /** The most blocks an element-wise launch uses; its grid-stride loop covers the rest. */
    static final int MAX_ELEMENT_BLOCKS = 1 << 16;
    /** The most threads per block of the row kernels (one block per row). */
    static final int ROW_THREADS = 256;
    /** The most threads per block of cross-entropy and argmax, whose rows are vocabularies. */
    static final int VOCAB_THREADS = 512;
    /** The most float32 scratch one tile of a widened BF16 weight takes (beyond it only when k alone exceeds it). */
    static final long WIDEN_TILE_BYTES = 64L << 20;

    private final Options options;
    private final CudaAvailability.Report device;
    private final CompileTarget target;
    private final int deviceHandle;           // the driver's CUdevice of options.device()
    private final CUctx_st context;
    private final CUstream_st stream;
    private final cublasContext cublasHandle;
    private final CachingAllocator allocator;
    private final KernelModules kernels;
    private final KernelLaunch launcher;
    private final FloatPointer alpha = new FloatPointer(1);   // cuBLAS reads these host values during the call
    private final FloatPointer beta = new FloatPointer(1);
    private final long widenTileBytes;        // WIDEN_TILE_BYTES, or a test's smaller cap
    private long liveBytes;       // guarded by this
    private long peakLiveBytes;   // guarded by this
    private boolean closed;       // guarded by this
    private Thread boundThread;   // the thread on which the context was last made current

    /** A backend on device 0 with plain float32 math. */
    public CudaBackend() {
        this(Options.defaults());
    }

    /**
     * Opens device {@code options.device()}: retains its primary context, creates a stream and a cuBLAS handle.
     * Throws {@link BackendUnavailableException} with the one-line reason when CUDA is not usable here.
     */
    public CudaBackend(Options options) {
        this(options, WIDEN_TILE_BYTES);
    }

    /** As {@link #CudaBackend(Options)}, widening BF16 weights in tiles of at most {@code widenTileBytes}. */
    CudaBackend(Options options, long widenTileBytes) {
        if (widenTileBytes < Float.BYTES || widenTileBytes / Float.BYTES > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("CudaBackend: a widening tile of " + widenTileBytes + " bytes must hold"
                    + " 1 to 2^31 − 1 floats");
        }
        this.widenTileBytes = widenTileBytes;
        CudaAvailability.Report report = CudaAvailability.probe();
        if (!report.usable()) throw new BackendUnavailableException("device cuda is not usable: " + report.reason());
        if (options.device() >= report.devices()) {
            throw new IllegalArgumentException("CUDA device " + options.device() + " does not exist; this machine has "
                    + report.devices() + " (numbered from 0)");
        }
        this.options = options;
        this.device = report;
        int index = options.device();
        int deviceHandle = 0;
        CUctx_st ctx = null;
        CUstream_st str = null;
        cublasContext handle = null;
        try {
            CudaStatus.check(cudart.cudaSetDevice(index), "cudaSetDevice(" + index + ")");
            deviceHandle = handleOf(index);
            ctx = new CUctx_st();
            CudaStatus.checkDriver(cudart.cuDevicePrimaryCtxRetain(ctx, deviceHandle),
                    "cuDevicePrimaryCtxRetain(" + index + ")");
            CudaStatus.checkDriver(cudart.cuCtxSetCurrent(ctx), "cuCtxSetCurrent(device " + index + ")");
            int[] major = new int[1], minor = new int[1];
            CudaStatus.check(cudart.cudaDeviceGetAttribute(major, cudart.cudaDevAttrComputeCapabilityMajor, index),
                    "cudaDeviceGetAttribute(compute capability major)");
            CudaStatus.check(cudart.cudaDeviceGetAttribute(minor, cudart.cudaDevAttrComputeCapabilityMinor, index),
                    "cudaDeviceGetAttribute(compute capability minor)");
            this.target = CompileTarget.forDevice(major[0], minor[0], NvrtcCompiler.supportedArchitectures());
            str = new CUstream_st();
            CudaStatus.check(cudart.cudaStreamCreateWithFlags(str, cudart.cudaStreamNonBlocking),
                    "cudaStreamCreateWithFlags");
            handle = new cublasContext();
            CudaStatus.checkCublas(cublas.cublasCreate_v2(handle), "cublasCreate_v2");
            CudaStatus.checkCublas(cublas.cublasSetStream_v2(handle, str), "cublasSetStream_v2");
            int mathMode = options.tf32() ? cublas.CUBLAS_TF32_TENSOR_OP_MATH : cublas.CUBLAS_DEFAULT_MATH;
            CudaStatus.checkCublas(cublas.cublasSetMathMode(handle, mathMode),
                    "cublasSetMathMode(" + (options.tf32() ? "CUBLAS_TF32_TENSOR_OP_MATH" : "CUBLAS_DEFAULT_MATH") + ")");
        } catch (RuntimeException e) {
            // undo what was created; these statuses are not checked, so the failure above is the one reported
            if (handle != null && !handle.isNull()) cublas.cublasDestroy_v2(handle);
            if (str != null && !str.isNull()) cudart.cudaStreamDestroy(str);
            if (ctx != null && !ctx.isNull()) cudart.cuDevicePrimaryCtxRelease(deviceHandle);
            alpha.deallocate();
            beta.deallocate();
            throw e;
        }
        this.deviceHandle = deviceHandle;
        this.context = ctx;
        this.stream = str;
        this.cublasHandle = handle;
        this.allocator = new CachingAllocator(new RuntimeMemory());
        this.kernels = new KernelModules(target);
        this.launcher = new KernelLaunch();
        this.boundThread = Thread.currentThread();
    }

    public Options options() {
        return options;
    }

    /** The device and versions this backend runs on, in one line. */
    public String describeDevice() {
        return device.describe() + "; kernels compiled for " + target.name();
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public boolean supports(DType dtype) {
        return dtype == DType.F32 || dtype == DType.BF16;
    }

    /** Compiles and loads every kernel now instead of at first use (e.g. so a benchmark's warm-up excludes NVRTC). */
    public synchronized void loadKernels() {
        enter();
        kernels.loadAll();
    }

    // ---- memory -------------------------------------------------------------------------------------

    @Override
    public synchronized Buffer allocate(DType dtype, long elements, String label) {
        KernelContract.checkAllocate(this, dtype, elements, label);
        enter();
        long bytes = Math.multiplyExact(elements, (long) dtype.bytes);
        CudaBuffer buffer = new CudaBuffer(this, dtype, allocator.allocate(bytes, label), elements, label);
        liveBytes += bytes;
        peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
        return buffer;
    }

    @Override
    public synchronized void release(Buffer buffer) {
        CudaBuffer cuda = own(buffer, "release");
        if (!cuda.free()) {
            throw new IllegalStateException("release: the storage of " + buffer.label()
                    + " was already released; an owner must free each buffer exactly once");
        }
        liveBytes -= buffer.bytes();
        if (!closed) allocator.release(cuda.block());   // a closed backend has freed all device memory already
    }

    @Override
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** The most {@link #liveBytes()} has been since this backend opened or {@link #resetPeakMemory()}. */
    public synchronized long peakLiveBytes() {
        return peakLiveBytes;
    }

    /** Device bytes held by this backend's allocator: live buffers, rounded to size classes, plus its cache. */
    public synchronized long reservedBytes() {
        return allocator.reservedBytes();
    }

    /** The most {@link #reservedBytes()} has been since this backend opened or {@link #resetPeakMemory()}. */
    public synchronized long peakReservedBytes() {
        return allocator.peakReservedBytes();
    }

    /** Starts both peaks again from the current values. */
    public synchronized void resetPeakMemory() {
        peakLiveBytes = liveBytes;
        allocator.resetPeak();
    }

    /** Gives the allocator's cached blocks back to the device; returns the bytes freed. */
    public synchronized long releaseCachedMemory() {
        enter();
        return allocator.releaseCached();
    }

    @Override
    public synchronized void upload(float[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        enter();
        if (src.length == 0) return;
        Pointer host;
        if (dst.dtype() == DType.BF16) {
            host = new ShortPointer(HalfFloats.floatsToBf16(src));
        } else {
            host = new FloatPointer(src);
        }
        try {
            // pageable source: the call returns once the driver has staged the data, so the host copy may go
            CudaStatus.check(cudart.cudaMemcpyAsync(at(dst), host, (long) src.length * dst.dtype().bytes,
                    cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(host to " + dst + ")");
        } finally {
            host.deallocate();
        }
    }

    /** Narrows to float first; into BF16 the floats are then rounded as {@link #upload(float[], Tensor)} does. */
    @Override
    public void upload(double[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        float[] narrow = new float[src.length];
        for (int i = 0; i < src.length; i++) narrow[i] = (float) src[i];
        upload(narrow, dst);
    }

    @Override
    public synchronized float[] download(Tensor src) {
        KernelContract.checkDownload(src);
        enter();
        float[] values = new float[(int) src.size()];
        if (values.length == 0) return values;
        boolean bf16 = src.dtype() == DType.BF16;
        Pointer host = bf16 ? new ShortPointer(values.length) : new FloatPointer(values.length);
        try {
            CudaStatus.check(cudart.cudaMemcpyAsync(host, at(src), (long) values.length * src.dtype().bytes,
                    cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(" + src + " to host)");
            waitForStream("download of " + src);
            if (bf16) {
                short[] words = new short[values.length];
                ((ShortPointer) host).get(words);
                HalfFloats.bf16ToFloats(words, 0, values, 0, words.length);
            } else {
                ((FloatPointer) host).get(values);
            }
        } finally {
            host.deallocate();
        }
        return values;
    }

    /** Exact for both dtypes: F32 and BF16 values are floats. */
    @Override
    public double[] downloadDouble(Tensor src) {
        float[] values = download(src);
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) wide[i] = values[i];
        return wide;
    }

    @Override
    public synchronized void fill(Tensor dst, double value) {
        KernelContract.checkFill(dst);
        enter();
        flat(Kernel.FILL, dst.size(), address(dst), dst.size(), (float) value);
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        KernelContract.checkCopy(src, dst);
        enter();
        if (src.size() == 0) return;
        CudaStatus.check(cudart.cudaMemcpyAsync(at(dst), at(src), src.size() * src.dtype().bytes,
                cudart.cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync(" + src + " to " + dst + ")");
        afterLaunch("copy to " + dst);
    }

    @Override
    public synchronized void synchronize() {
        enter();
        waitForStream("synchronize");
    }

    // ---- element-wise --------------------------------------------------------------------------------

    @Override
    public synchronized void add(Tensor a, Tensor b, Tensor out) {
        KernelContract.checkAdd(a, b, out);
        enter();
        // b repeats every b.size() elements of a: a residual when sizes are equal, a bias otherwise
        flat(Kernel.ADD, a.size(), address(a), address(b), address(out), a.size(), b.size());
    }

    @Override
    public synchronized void scale(Tensor x, double alpha, Tensor out) {
        KernelContract.checkScale(x, out);
        enter();
        flat(Kernel.SCALE, x.size(), address(x), address(out), x.size(), alpha);
    }

    @Override
    public synchronized void sumRows(Tensor x, Tensor out, boolean accumulate) {
        KernelContract.checkSumRows(x, out);
        enter();
        int cols = (int) out.size();                         // x is (rows, cols)
        if (cols == 0) return;
        int rows = (int) (x.size() / cols);
        launch(Kernel.SUM_ROWS, (cols + 31) / 32, 32, 8, address(x), address(out), rows, cols, accumulate ? 1 : 0);
    }

    @Override
    public synchronized void unary(UnaryOp op, Tensor x, Tensor out) {
        KernelContract.checkUnary(op, x, out);
        enter();
        flat(Kernel.UNARY, x.size(), address(x), address(out), x.size(), activationCode(op));
    }

    @Override
    public synchronized void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        KernelContract.checkUnaryBackward(op, x, dOut, dx);
        enter();
        flat(Kernel.UNARY_BACKWARD, x.size(), address(x), address(dOut), address(dx), x.size(), activationCode(op));
    }

    @Override
    public synchronized void swiglu(Tensor gate, Tensor up, Tensor out) {
        KernelContract.checkSwiglu(gate, up, out);
        enter();
        flat(Kernel.SWIGLU, gate.size(), address(gate), address(up), address(out), gate.size());
    }

    @Override
    public synchronized void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        KernelContract.checkSwigluBackward(gate, up, dOut, dGate, dUp);
        enter();
        flat(Kernel.SWIGLU_BACKWARD, gate.size(), address(gate), address(up), address(dOut), addressOrNull(dGate),
                addressOrNull(dUp), gate.size());
    }

    // ---- normalisation ---------------------------------------------------------------------------------

    @Override
    public synchronized void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean,
                                       Tensor rstd) {
        KernelContract.checkLayerNorm(x, gamma, beta, eps, out, mean, rstd);
        enter();
        int cols = x.dim(-1);   // x, out: (rows, cols)
        perRow(Kernel.LAYER_NORM, x.rows(), rowThreads(cols, ROW_THREADS), address(x), address(gamma),
                addressOrNull(beta), address(out), addressOrNull(mean), addressOrNull(rstd), cols, eps);
    }

    @Override
    public synchronized void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut,
                                               Tensor dx) {
        KernelContract.checkLayerNormBackward(x, gamma, mean, rstd, dOut, dx);
        enter();
        int cols = x.dim(-1);
        perRow(Kernel.LAYER_NORM_BACKWARD, x.rows(), rowThreads(cols, ROW_THREADS), address(x), address(gamma),
                address(mean), address(rstd), address(dOut), address(dx), cols);
    }

    @Override
    public synchronized void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        KernelContract.checkRmsNorm(x, weight, eps, out, rstd);
        enter();
        int cols = x.dim(-1);
        perRow(Kernel.RMS_NORM, x.rows(), rowThreads(cols, ROW_THREADS), address(x), address(weight), address(out),
                addressOrNull(rstd), cols, eps);
    }

    @Override
    public synchronized void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        KernelContract.checkRmsNormBackward(x, weight, rstd, dOut, dx);
        enter();
        int cols = x.dim(-1);
        perRow(Kernel.RMS_NORM_BACKWARD, x.rows(), rowThreads(cols, ROW_THREADS), address(x), address(weight),
                address(rstd), address(dOut), address(dx), cols);
    }

    // ---- matrix products -------------------------------------------------------------------------------

    @Override
    public synchronized void gemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        KernelContract.checkGemm(g, a, b, c);
        enter();
        if (g.m() == 0 || g.n() == 0) return;
        long matrix = (long) g.m() * g.n();
        if (g.k() == 0) {   // empty sums: C = beta · C, zeros when beta is 0 whatever C held
            flat(Kernel.SCALE_BATCHED, matrix * g.batch(), address(c), matrix, g.strideC(), g.batch(), g.beta());
            return;
        }
        alpha.put(g.alpha());
        beta.put(g.beta());
        if (a.dtype() == DType.BF16 || b.dtype() == DType.BF16) {
            gemmWidened(g, a, b, c);
            return;
        }
        // Cᵀ = op(B)ᵀ · op(A)ᵀ in column-major terms: B first, A second
        sgemm(ColumnMajorGemm.of(g), address(b), address(a), address(c), g.toString());
    }

    /**
     * A product whose A or B is a BF16 weight: each step of its {@link WidenedWeightGemm} plan widens a tile of the
     * weight into one scratch block, then multiplies it in one SGEMM that writes the tile's slice of C. The steps
     * reuse the block in stream order, and it goes back to the allocator's cache when the last one is queued.
     */
    private void gemmWidened(Gemm g, Tensor a, Tensor b, Tensor c) {
        boolean weightIsB = b.dtype() == DType.BF16;
        Tensor weight = weightIsB ? b : a, operand = weightIsB ? a : b;
        WidenedWeightGemm plan = WidenedWeightGemm.plan(g, weightIsB, widenTileBytes / Float.BYTES);
        CachingAllocator.Block scratch = allocator.allocate(plan.scratch() * Float.BYTES,
                "cuda backend: " + weight + " widened to float32");
        try {
            for (WidenedWeightGemm.Step step : plan.steps()) {
                flat(Kernel.WIDEN_BF16, step.widened(), address(weight, step.weightOffset()), scratch.address(),
                        step.widened(), step.runLength(), (long) step.runs(), step.runStride(), step.matrixStride());
                long widened = scratch.address(), other = address(operand, step.floatOffset());
                // Cᵀ = op(B)ᵀ · op(A)ᵀ in column-major terms: B first, A second
                sgemm(step.gemm(), weightIsB ? widened : other, weightIsB ? other : widened,
                        address(c, step.cOffset()), g + " with BF16 " + (weightIsB ? "B" : "A"));
            }
        } finally {
            allocator.release(scratch);
        }
    }

    /** One cublasSgemmStridedBatched of {@code cm} with the backend's alpha and beta, on device addresses. */
    private void sgemm(ColumnMajorGemm cm, long first, long second, long c, String what) {
        String call = "cublasSgemmStridedBatched(" + what + ")";
        CudaStatus.checkCublas(cublas.cublasSgemmStridedBatched(cublasHandle,
                cm.transFirst() ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N,
                cm.transSecond() ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N,
                cm.m(), cm.n(), cm.k(), alpha,
                floatsAt(first), cm.ldFirst(), cm.strideFirst(),
                floatsAt(second), cm.ldSecond(), cm.strideSecond(), beta,
                floatsAt(c), cm.ldc(), cm.strideC(), cm.batch()), call);
        afterLaunch(call);
    }

    // ---- attention pieces --------------------------------------------------------------------------------

    @Override
    public synchronized void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        KernelContract.checkSoftmax(scores, scale, causal, keyMask, probs);
        enter();
        int heads = scores.dim(1), queries = scores.dim(2), keys = scores.dim(3);
        perRow(Kernel.SOFTMAX, scores.rows(), rowThreads(keys, ROW_THREADS), address(scores), addressOrNull(keyMask),
                address(probs), heads, queries, keys, scale, causal ? 1 : 0);
    }

    @Override
    public synchronized void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        KernelContract.checkSoftmaxBackward(probs, dProbs, scale, dScores);
        enter();
        int keys = probs.dim(-1);
        perRow(Kernel.SOFTMAX_BACKWARD, probs.rows(), rowThreads(keys, ROW_THREADS), address(probs), address(dProbs),
                address(dScores), keys, scale);
    }

    @Override
    public synchronized void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout,
                                  boolean inverse, Tensor out) {
        KernelContract.checkRope(x, positions, frequencies, layout, out);
        enter();
        int steps = x.dim(2), headSize = x.dim(3);
        long pairs = (long) x.rows() * (headSize / 2);   // rows = batch · heads · T
        if (pairs == 0) return;
        // positions per sequence (batch · T): each sequence's heads · T rows read their own row of them
        long sequenceRows = positions.length == steps ? 0 : (long) x.dim(1) * steps;
        CachingAllocator.Block positionBlock = uploadInts(positions, "rope positions");
        CachingAllocator.Block frequencyBlock = null;
        try {
            frequencyBlock = uploadDoubles(frequencies.toArray(), "rope frequencies");
            flat(Kernel.ROPE, pairs, address(x), address(out), positionBlock.address(), pairs, steps, headSize,
                    frequencyBlock.address(), layout == RopeLayout.INTERLEAVED ? 1 : 0, inverse ? 1 : 0, sequenceRows);
        } finally {
            // later work on this stream runs after the kernel that reads them
            allocator.release(positionBlock);
            if (frequencyBlock != null) allocator.release(frequencyBlock);
        }
    }

    @Override
    public synchronized void permute(Tensor x, int[] perm, Tensor out) {
        KernelContract.checkPermute(x, perm, out);
        enter();
        int rank = KernelContract.MAX_PERMUTE_RANK, pad = rank - x.rank();
        int[] shape = new int[rank];      // x's shape, left-padded with 1s
        int[] axis = new int[rank];       // out axis i reads x axis axis[i] (padded)
        for (int i = 0; i < rank; i++) {
            shape[i] = i < pad ? 1 : x.dim(i - pad);
            axis[i] = i < pad ? i : perm[i - pad] + pad;
        }
        long[] stride = new long[rank];   // x's element strides
        stride[rank - 1] = 1;
        for (int i = rank - 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
        long total = out.size();
        flat(Kernel.PERMUTE, total, address(x), address(out), total, shape[axis[1]], shape[axis[2]], shape[axis[3]],
                shape[axis[4]], stride[axis[0]], stride[axis[1]], stride[axis[2]], stride[axis[3]], stride[axis[4]]);
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Override
    public synchronized void gather(Tensor table, int[] ids, Tensor out) {
        KernelContract.checkGather(table, ids, out);
        enter();
        int dim = table.dim(1);   // table: (vocab, dim), out: (ids, dim)
        long total = (long) ids.length * dim;
        if (total == 0) return;
        CachingAllocator.Block idBlock = uploadInts(ids, "gather ids");
        try {
            flat(table.dtype() == DType.BF16 ? Kernel.GATHER_BF16 : Kernel.GATHER, total, address(table),
                    idBlock.address(), address(out), total, dim);
        } finally {
            allocator.release(idBlock);
        }
    }

    @Override
    public synchronized double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        KernelContract.checkCrossEntropy(logits, targets, dScale, dLogits);
        enter();
        int vocab = logits.dim(-1), rows = logits.rows();   // logits, dLogits: (rows, vocab)
        if (rows == 0) return 0;
        CachingAllocator.Block targetBlock = uploadInts(targets, "cross-entropy targets");
        CachingAllocator.Block lossBlock = allocator.allocate((long) rows * Double.BYTES, "cross-entropy row losses");
        DoublePointer host = new DoublePointer(rows);
        try {
            perRow(Kernel.CROSS_ENTROPY, rows, rowThreads(vocab, VOCAB_THREADS), address(logits), targetBlock.address(),
                    addressOrNull(dLogits), lossBlock.address(), vocab, dScale);
            CudaStatus.check(cudart.cudaMemcpyAsync(host, new NativeAddress(lossBlock.address()),
                    (long) rows * Double.BYTES, cudart.cudaMemcpyDeviceToHost, stream),
                    "cudaMemcpyAsync(cross-entropy row losses to host)");
            waitForStream("crossEntropy over " + logits);
            double total = 0;   // summed in row order, so the result is deterministic
            for (int r = 0; r < rows; r++) total += host.get(r);
            return total;
        } finally {
            host.deallocate();
            allocator.release(lossBlock);
            allocator.release(targetBlock);
        }
    }

    @Override
    public synchronized int[] argmax(Tensor x) {
        KernelContract.checkArgmax(x);
        enter();
        int cols = x.dim(-1), rows = x.rows();   // x: (rows, cols)
        int[] best = new int[rows];
        if (rows == 0) return best;
        CachingAllocator.Block bestBlock = allocator.allocate((long) rows * Integer.BYTES, "argmax results");
        IntPointer host = new IntPointer(rows);
        try {
            perRow(Kernel.ARGMAX, rows, rowThreads(cols, VOCAB_THREADS), address(x), bestBlock.address(), cols);
            CudaStatus.check(cudart.cudaMemcpyAsync(host, new NativeAddress(bestBlock.address()),
                    (long) rows * Integer.BYTES, cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(argmax to host)");
            waitForStream("argmax over " + x);
            host.get(best);
            return best;
        } finally {
            host.deallocate();
            allocator.release(bestBlock);
        }
    }

    /**
     * Waits for queued work, then frees all device memory, unloads the kernels, destroys the cuBLAS handle and the
     * stream, and releases the context. Close every owner first: their buffers are freed here regardless. The first
     * failure is thrown after every step was tried.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        RuntimeException first = null;
        try {
            enter();
            waitForStream("close");
        } catch (RuntimeException e) {
            first = e;
        }
        closed = true;
        Runnable[] steps = {   // memory first: freeing waits on the stream, which must still exist
            allocator::freeAll,
            kernels::close,
            launcher::close,
            () -> CudaStatus.checkCublas(cublas.cublasDestroy_v2(cublasHandle), "cublasDestroy_v2"),
            () -> CudaStatus.check(cudart.cudaStreamDestroy(stream), "cudaStreamDestroy"),
            () -> CudaStatus.checkDriver(cudart.cuDevicePrimaryCtxRelease(deviceHandle),
                    "cuDevicePrimaryCtxRelease(" + options.device() + ")"),
        };
        for (Runnable step : steps) {
            try {
                step.run();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        alpha.deallocate();
        beta.deallocate();
        if (first != null) throw first;
    }

    // ---- launching -------------------------------------------------------------------------------------

    /** An element-wise kernel over {@code n} elements (nothing for n = 0). */
    private void flat(Kernel kernel, long n, Object... args) {
        if (n == 0) return;
        int blocks = (int) Math.min((n + ELEMENT_THREADS - 1) / ELEMENT_THREADS, MAX_ELEMENT_BLOCKS);
        launch(kernel, blocks, ELEMENT_THREADS, 1, args);
    }

    /** A row kernel: one block of {@code threads} per row (nothing for 0 rows). */
    private void perRow(Kernel kernel, int rows, int threads, Object... args) {
        if (rows == 0) return;
        launch(kernel, rows, threads, 1, args);
    }

    private void launch(Kernel kernel, int blocks, int blockX, int blockY, Object... args) {
        launcher.launch(kernels.function(kernel), stream, kernel, blocks, blockX, blockY, args);
        afterLaunch(kernel.symbol);
    }

    /** With {@link Options#checkEveryKernel()}, waits for the work just queued so its failure names it. */
    private void afterLaunch(String what) {
        if (options.checkEveryKernel()) waitForStream(what);
    }

    /** Threads per block for rows of {@code cols}: a multiple of 32 covering the row, at most {@code max}. */
    static int rowThreads(int cols, int max) {
        int rounded = (int) Math.min(max, ((long) cols + 31) / 32 * 32);
        return Math.max(32, rounded);
    }

    /** The activation codes of elementwise.cu. */
    static int activationCode(UnaryOp op) {
        return switch (op) {
            case GELU_TANH -> 0;
            case GELU_ERF -> 1;
            case SILU -> 2;
        };
    }

    private void waitForStream(String what) {
        CudaStatus.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize(after " + what + ")");
    }

    /** Refuses work after close, and makes the context current when the calling thread changed. */
    private void enter() {
        if (closed) {
            throw new IllegalStateException("the cuda backend on device " + options.device() + " is closed; open a new"
                    + " one (and its owners) to continue");
        }
        Thread current = Thread.currentThread();
        if (current != boundThread) {
            CudaStatus.check(cudart.cudaSetDevice(options.device()), "cudaSetDevice(" + options.device() + ")");
            CudaStatus.checkDriver(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent(device " + options.device() + ")");
            boundThread = current;
        }
    }

    /** Copies {@code values} to a temporary device block, which the caller releases after queuing its kernel. */
    private CachingAllocator.Block uploadInts(int[] values, String what) {
        if (values.length == 0) return allocator.allocate(0, "cuda backend: " + what);
        IntPointer host = new IntPointer(values);
        try {
            return uploadBytes(host, (long) values.length * Integer.BYTES, what);
        } finally {
            host.deallocate();
        }
    }

    /** As {@link #uploadInts}, for doubles. */
    private CachingAllocator.Block uploadDoubles(double[] values, String what) {
        if (values.length == 0) return allocator.allocate(0, "cuda backend: " + what);
        DoublePointer host = new DoublePointer(values);
        try {
            return uploadBytes(host, (long) values.length * Double.BYTES, what);
        } finally {
            host.deallocate();
        }
    }

    /** A temporary device block holding {@code bytes} bytes copied from {@code host}. */
    private CachingAllocator.Block uploadBytes(Pointer host, long bytes, String what) {
        CachingAllocator.Block block = allocator.allocate(bytes, "cuda backend: " + what);
        try {
            CudaStatus.check(cudart.cudaMemcpyAsync(new NativeAddress(block.address()), host, bytes,
                    cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(" + what + " to device)");
        } catch (RuntimeException e) {
            allocator.release(block);
            throw e;
        }
        return block;
    }

    // ---- storage access -------------------------------------------------------------------------------

    /** The buffer as this backend's own storage, or an error naming the kernel if another backend made it. */
    private CudaBuffer own(Buffer buffer, String kernel) {
        if (buffer instanceof CudaBuffer cuda && cuda.owner() == this) return cuda;
        throw new IllegalArgumentException(kernel + ": the storage of " + buffer.label()
                + " was allocated by another backend; move it here with download and upload");
    }

    /** The device address of the tensor's first element. */
    private long address(Tensor t) {
        return own(t.buffer(), "cuda kernel").addressOf(t.offset());
    }

    /** The device address of the tensor's element {@code element} (counted in its own dtype). */
    private long address(Tensor t, long element) {
        return own(t.buffer(), "cuda kernel").addressOf(t.offset() + element);
    }

    /** As {@link #address}, or 0 (a null pointer in the kernel) for an absent optional tensor. */
    private long addressOrNull(Tensor t) {
        return t == null ? 0L : address(t);
    }

    private Pointer at(Tensor t) {
        return new NativeAddress(address(t));
    }

    private static FloatPointer floatsAt(long address) {
        return new FloatPointer(new NativeAddress(address));
    }

    /** The driver's CUdevice handle of device {@code index}. */
    private static int handleOf(int index) {
        int[] handle = new int[1];
        CudaStatus.checkDriver(cudart.cuDeviceGet(handle, index), "cuDeviceGet(" + index + ")");
        return handle[0];
    }

    /** cudaMalloc and cudaFree for the allocator; out of memory is reported as 0, other failures throw. */
    private final class RuntimeMemory implements DeviceMemory {
        @Override
        public long allocate(long bytes, String label) {
            Pointer pointer = new Pointer();
            int status = cudart.cudaMalloc(pointer, bytes);
            if (status == cudart.cudaErrorMemoryAllocation) {
                cudart.cudaGetLastError();
                return 0;
            }
            CudaStatus.check(status, "cudaMalloc(" + bytes + " bytes for " + label + ")");
            return pointer.address();
        }

        @Override
        public void free(long address) {
            CudaStatus.check(cudart.cudaFree(new NativeAddress(address)), "cudaFree(0x" + Long.toHexString(address) + ")");
        }

        @Override
        public void awaitIdle() {
            waitForStream("freeing cached device memory");
        }

        @Override
        public String describe() {
            SizeTPointer free = new SizeTPointer(1), total = new SizeTPointer(1);
            try {
                int status = cudart.cudaMemGetInfo(free, total);
                if (status != cudart.cudaSuccess) {
                    cudart.cudaGetLastError();
                    return "device " + options.device() + " did not report its free memory";
                }
                return "device " + options.device() + " has " + (free.get() >> 20) + " MiB free of "
                        + (total.get() >> 20) + " MiB";
            } finally {
                free.deallocate();
                total.deallocate();
            }
        }
    }
}
