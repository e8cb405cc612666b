package dev.promptgrad.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;

import java.util.EnumMap;
import java.util.Map;

/**
 * One backend's kernels: at a kernel's first launch its source's NVRTC image is loaded as a module into the
 * backend's context and every function of that source is looked up, so a missing symbol fails there, by name.
 * {@link #close()} unloads the modules. Compiling is {@link NvrtcCompiler}'s job; used under the backend's lock.
 */
final class KernelModules implements AutoCloseable {
    private final CompileTarget target;
    private final Map<KernelSource, CUmod_st> modules = new EnumMap<>(KernelSource.class);
    private final Map<Kernel, CUfunc_st> functions = new EnumMap<>(Kernel.class);

    KernelModules(CompileTarget target) {
        this.target = target;
    }

    /** The loaded function of {@code kernel}. */
    CUfunc_st function(Kernel kernel) {
        CUfunc_st function = functions.get(kernel);
        if (function == null) {
            load(kernel.source);
            function = functions.get(kernel);
        }
        return function;
    }

    /** Compiles (or takes from the process cache) and loads every kernel source now, e.g. to time it apart. */
    void loadAll() {
        for (KernelSource source : KernelSource.values()) {
            if (!modules.containsKey(source)) load(source);
        }
    }

    private void load(KernelSource source) {
        byte[] image = NvrtcCompiler.image(source, target);
        BytePointer data = new BytePointer(image);
        CUmod_st module = new CUmod_st();
        try {
            CudaStatus.checkDriver(cudart.cuModuleLoadData(module, data),
                    "cuModuleLoadData(" + source.file + " for " + target.name() + ")");
        } finally {
            data.deallocate();
        }
        modules.put(source, module);
        for (Kernel kernel : Kernel.values()) {
            if (kernel.source != source) continue;
            CUfunc_st function = new CUfunc_st();
            CudaStatus.checkDriver(cudart.cuModuleGetFunction(function, module, kernel.symbol),
                    "cuModuleGetFunction(" + kernel.symbol + " in " + source.file + ")");
            functions.put(kernel, function);
        }
    }

    /** Unloads every module; the first failure is thrown after all were tried. */
    @Override
    public void close() {
        CudaException first = null;
        for (Map.Entry<KernelSource, CUmod_st> e : modules.entrySet()) {
            try {
                CudaStatus.checkDriver(cudart.cuModuleUnload(e.getValue()), "cuModuleUnload(" + e.getKey().file + ")");
            } catch (CudaException failure) {
                if (first == null) first = failure;
            }
        }
        modules.clear();
        functions.clear();
        if (first != null) throw first;
    }
}
