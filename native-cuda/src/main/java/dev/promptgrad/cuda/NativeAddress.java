package dev.promptgrad.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * A JavaCPP pointer to a raw address that it does not own: device memory, or a slot of a native argument block.
 * It has no deallocator, so the garbage collector never frees what it points to; its owner does.
 */
final class NativeAddress extends Pointer {

    NativeAddress(long address) {
        this.address = address;
    }
}
