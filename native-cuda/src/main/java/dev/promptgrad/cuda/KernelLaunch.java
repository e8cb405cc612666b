package dev.promptgrad.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Launches a {@link Kernel} with cuLaunchKernel: checks the arguments against the kernel's parameter list, writes
 * them into one reused native block (an 8-byte slot each) and passes the slots' addresses as kernelParams. The
 * driver copies arguments at launch, so the block is free again when the call returns. One per backend, used
 * under its lock; it chooses no launch geometry.
 */
final class KernelLaunch implements AutoCloseable {
    static final int MAX_PARAMS = 16;
    static final int SLOT_BYTES = 8;

    private final BytePointer slots = new BytePointer((long) SLOT_BYTES * MAX_PARAMS);
    private final PointerPointer<Pointer> params = new PointerPointer<>(MAX_PARAMS);

    KernelLaunch() {
        for (int i = 0; i < MAX_PARAMS; i++) params.put(i, new NativeAddress(slots.address() + (long) SLOT_BYTES * i));
    }

    /**
     * Queues {@code kernel} on {@code stream} with {@code grid} blocks of {@code blockX × blockY} threads.
     * Arguments are boxed Longs (pointers, long long), Integers, Floats and Doubles, in the kernel's order.
     */
    void launch(CUfunc_st function, CUstream_st stream, Kernel kernel, int grid, int blockX, int blockY,
                Object... args) {
        checkArguments(kernel, args);
        if (grid < 1 || blockX < 1 || blockY < 1 || (long) blockX * blockY > 1024) {
            throw new IllegalArgumentException(kernel.symbol + ": bad launch geometry of " + grid + " blocks of "
                    + blockX + "×" + blockY + " threads");
        }
        for (int i = 0; i < args.length; i++) {
            long slot = (long) SLOT_BYTES * i;
            switch (kernel.params.get(i)) {
                case PTR, I64 -> slots.putLong(slot, (Long) args[i]);
                case I32 -> slots.putInt(slot, (Integer) args[i]);
                case F32 -> slots.putFloat(slot, (Float) args[i]);
                case F64 -> slots.putDouble(slot, (Double) args[i]);
            }
        }
        CudaStatus.checkDriver(cudart.cuLaunchKernel(function, grid, 1, 1, blockX, blockY, 1, 0, stream, params,
                (PointerPointer<?>) null), "cuLaunchKernel(" + kernel.symbol + ", " + grid + " blocks of " + blockX
                + (blockY > 1 ? "×" + blockY : "") + ")");
    }

    /** Each argument has the Java type of the kernel's parameter at its position, and none is missing or extra. */
    static void checkArguments(Kernel kernel, Object[] args) {
        if (args.length != kernel.params.size() || args.length > MAX_PARAMS) {
            throw new IllegalArgumentException(kernel.symbol + " takes " + kernel.params.size() + " arguments "
                    + kernel.params + ", not " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Kernel.Param param = kernel.params.get(i);
            if (args[i] == null || args[i].getClass() != param.javaType) {
                throw new IllegalArgumentException(kernel.symbol + ": argument " + i + " must be a "
                        + param.javaType.getSimpleName() + " for a " + param + " parameter, not "
                        + (args[i] == null ? "null" : args[i].getClass().getSimpleName()));
            }
        }
    }

    @Override
    public void close() {
        params.deallocate();
        slots.deallocate();
    }
}
