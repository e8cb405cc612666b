package dev.promptgrad.cuda;

import java.util.List;

import static dev.promptgrad.cuda.Kernel.Param.F32;
import static dev.promptgrad.cuda.Kernel.Param.F64;
import static dev.promptgrad.cuda.Kernel.Param.I32;
import static dev.promptgrad.cuda.Kernel.Param.I64;
import static dev.promptgrad.cuda.Kernel.Param.PTR;

/**
 * Every {@code extern "C"} kernel of the {@code .cu} resources: its source file, its symbol and its parameter
 * types, in order. {@link KernelLaunch} checks each launch's arguments against this list, and
 * KernelSourcesCompileTest checks the list against the parameters nvcc reports in PTX, so the Java side and the
 * CUDA side cannot drift apart silently. It holds no launch geometry; CudaBackend chooses that.
 */
enum Kernel {
    // elementwise.cu
    FILL(KernelSource.ELEMENTWISE, "fill_f32", PTR, I64, F32),
    ADD(KernelSource.ELEMENTWISE, "add_f32", PTR, PTR, PTR, I64, I64),
    SCALE(KernelSource.ELEMENTWISE, "scale_f32", PTR, PTR, I64, F64),
    SCALE_BATCHED(KernelSource.ELEMENTWISE, "scale_batched_f32", PTR, I64, I64, I32, F32),
    SUM_ROWS(KernelSource.ELEMENTWISE, "sum_rows_f32", PTR, PTR, I32, I32, I32),
    UNARY(KernelSource.ELEMENTWISE, "unary_f32", PTR, PTR, I64, I32),
    UNARY_BACKWARD(KernelSource.ELEMENTWISE, "unary_backward_f32", PTR, PTR, PTR, I64, I32),
    SWIGLU(KernelSource.ELEMENTWISE, "swiglu_f32", PTR, PTR, PTR, I64),
    SWIGLU_BACKWARD(KernelSource.ELEMENTWISE, "swiglu_backward_f32", PTR, PTR, PTR, PTR, PTR, I64),
    WIDEN_BF16(KernelSource.ELEMENTWISE, "widen_bf16", PTR, PTR, I64, I32, I64, I64, I64),
    // norm.cu
    LAYER_NORM(KernelSource.NORM, "layer_norm_f32", PTR, PTR, PTR, PTR, PTR, PTR, I32, F64),
    LAYER_NORM_BACKWARD(KernelSource.NORM, "layer_norm_backward_f32", PTR, PTR, PTR, PTR, PTR, PTR, I32),
    RMS_NORM(KernelSource.NORM, "rms_norm_f32", PTR, PTR, PTR, PTR, I32, F64),
    RMS_NORM_BACKWARD(KernelSource.NORM, "rms_norm_backward_f32", PTR, PTR, PTR, PTR, PTR, I32),
    // attention.cu
    SOFTMAX(KernelSource.ATTENTION, "softmax_f32", PTR, PTR, PTR, I32, I32, I32, F64, I32),
    SOFTMAX_BACKWARD(KernelSource.ATTENTION, "softmax_backward_f32", PTR, PTR, PTR, I32, F64),
    ROPE(KernelSource.ATTENTION, "rope_f32", PTR, PTR, PTR, I64, I32, I32, PTR, I32, I32, I64),
    PERMUTE(KernelSource.ATTENTION, "permute_f32", PTR, PTR, I64, I32, I32, I32, I32, I64, I64, I64, I64, I64),
    // loss.cu
    GATHER(KernelSource.LOSS, "gather_f32", PTR, PTR, PTR, I64, I32),
    GATHER_BF16(KernelSource.LOSS, "gather_bf16", PTR, PTR, PTR, I64, I32),
    CROSS_ENTROPY(KernelSource.LOSS, "cross_entropy_f32", PTR, PTR, PTR, PTR, I32, F64),
    ARGMAX(KernelSource.LOSS, "argmax_f32", PTR, PTR, I32);

    /** A kernel parameter's C type, and the Java type a launch passes for it. */
    enum Param {
        /** A device pointer (any element type); passed as a {@code long} address, 0 for null. */
        PTR(".u64", Long.class),
        /** {@code long long}. */
        I64(".u64", Long.class),
        /** {@code int}. */
        I32(".u32", Integer.class),
        /** {@code float}. */
        F32(".f32", Float.class),
        /** {@code double}. */
        F64(".f64", Double.class);

        /** The type nvcc writes for this parameter in a PTX {@code .entry}. */
        final String ptxType;
        /** The boxed Java type a launch argument must have. */
        final Class<?> javaType;

        Param(String ptxType, Class<?> javaType) {
            this.ptxType = ptxType;
            this.javaType = javaType;
        }
    }

    final KernelSource source;
    final String symbol;
    final List<Param> params;

    Kernel(KernelSource source, String symbol, Param... params) {
        this.source = source;
        this.symbol = symbol;
        this.params = List.of(params);
    }
}
