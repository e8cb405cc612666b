// The device side of the test-only CUDA emulator: what the emulated NVRTC (nvrtc.cpp) puts in front of every .cu
// source so that g++ compiles it for the CPU. Each thread of a block is a ucontext fiber; __syncthreads and the warp
// shuffles are barriers the block's scheduler resolves, warps run ahead of each other between block barriers (so
// a missing __syncthreads shows), and a barrier that can never open (divergent __syncthreads, a shuffle with exited
// lanes) fails the launch with a message instead of hanging. It is not a GPU model: no timing, no memory model, no
// concurrency between threads; it checks kernels' logic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
// Blocks run one after another on one host thread, so a static is exactly one block's shared memory.
#define __shared__ static

struct pg_uint3 {
    unsigned x, y, z;
};
typedef pg_uint3 dim3;

// The built-in variables, set by the scheduler before it resumes a fiber.
static thread_local pg_uint3 threadIdx, blockIdx, blockDim, gridDim;

inline double __longlong_as_double(long long bits) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

inline float __uint_as_float(unsigned bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

namespace pg_emulator {

constexpr int WARP_SIZE = 32;
constexpr std::size_t STACK_BYTES = 128 * 1024;

// Thrown inside a fiber or the scheduler to fail the launch; caught by launch().
struct LaunchFailure : std::exception {
    std::string message;
    explicit LaunchFailure(std::string m) : message(std::move(m)) {}
};

enum class State { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Fiber {
    ucontext_t context;
    State state;
    pg_uint3 index;
    unsigned shuffles;   // shuffles this thread has entered: selects its exchange slot
};

// One block in flight: its fibers, the scheduler's context and the shuffle exchange.
struct Block {
    std::vector<Fiber> fibers;
    std::vector<std::vector<char>> stacks;
    // two slots per thread, alternating by shuffle count, so a lane that already entered its next shuffle
    // cannot overwrite a value a slower lane of the same warp has still to read
    std::vector<unsigned long long> exchange;
    ucontext_t scheduler;
    int current = -1;
    void (*body)(void*) = nullptr;
    void* argument = nullptr;
    std::string failure;   // set by a fiber that threw
};

inline thread_local Block* running = nullptr;

inline void fiber_main() {
    Block& block = *running;
    try {
        block.body(block.argument);
    } catch (const LaunchFailure& f) {
        if (block.failure.empty()) block.failure = f.message;
    }
    block.fibers[block.current].state = State::DONE;
    // returning resumes uc_link, the scheduler
}

inline void suspend(State waiting) {
    Block& block = *running;
    Fiber& self = block.fibers[block.current];
    self.state = waiting;
    swapcontext(&self.context, &block.scheduler);
}

inline std::string describe(const Fiber& f) {
    return "thread (" + std::to_string(f.index.x) + "," + std::to_string(f.index.y) + "," + std::to_string(f.index.z)
            + ") of block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + ","
            + std::to_string(blockIdx.z) + ")";
}

inline int linear_thread() {
    return (int) (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
}

// Source lanes of the two shuffles; a source outside the warp gives the lane its own value, as on a GPU.
inline int shuffle_down_source(int lane, int width, int delta) {
    return lane + delta < width ? lane + delta : lane;
}

inline int shuffle_xor_source(int lane, int width, int laneMask) {
    return (lane ^ laneMask) < width ? lane ^ laneMask : lane;
}

template <class T>
T shuffle(unsigned mask, T value, int (*source_of)(int, int, int), int operand, const char* what) {
    static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffles move at most 8 bytes");
    if (mask != 0xffffffffu) throw LaunchFailure(std::string(what) + " with a partial mask is not emulated");
    Block& block = *running;
    int thread = linear_thread();
    int warpBase = thread / WARP_SIZE * WARP_SIZE;
    int width = std::min<int>(WARP_SIZE, (int) block.fibers.size() - warpBase);
    int source = warpBase + source_of(thread - warpBase, width, operand);
    Fiber& self = block.fibers[thread];
    unsigned slot = self.shuffles++ & 1u;
    unsigned long long bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    block.exchange[2 * thread + slot] = bits;
    suspend(State::AT_WARP_BARRIER);
    T result;
    std::memcpy(&result, &block.exchange[2 * source + slot], sizeof(T));
    return result;
}

// Runs every thread of one block to completion. Warps progress independently, as on a GPU: a warp whose lanes all
// reach a shuffle goes on at once, ahead of the other warps, and the warp that starts turns with the block index. So
// a shared-memory write that lacks the __syncthreads before it overwrites what a later warp still has to read, and
// the results show it. The block barrier opens when every thread that has not exited waits at it.
inline void run_block(Block& block) {
    int threads = (int) block.fibers.size();
    int warps = (threads + WARP_SIZE - 1) / WARP_SIZE;
    for (int t = 0; t < threads; t++) {
        Fiber& f = block.fibers[t];
        f.state = State::READY;
        f.shuffles = 0;
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = block.stacks[t].data();
        f.context.uc_stack.ss_size = block.stacks[t].size();
        f.context.uc_link = &block.scheduler;
        makecontext(&f.context, fiber_main, 0);
    }
    int firstWarp = (int) (blockIdx.x % (unsigned) warps);
    std::vector<int> order;   // the threads, warp by warp from firstWarp
    for (int w = 0; w < warps; w++) {
        int base = (firstWarp + w) % warps * WARP_SIZE;
        for (int t = base; t < std::min(threads, base + WARP_SIZE); t++) order.push_back(t);
    }
    std::deque<int> ready(order.begin(), order.end());
    int done = 0, atBlockBarrier = 0;
    for (;;) {
        if (ready.empty()) {
            if (done == threads) return;
            if (atBlockBarrier + done == threads) {
                for (int t : order) {
                    if (block.fibers[t].state == State::AT_BLOCK_BARRIER) {
                        block.fibers[t].state = State::READY;
                        ready.push_back(t);
                    }
                }
                atBlockBarrier = 0;
                continue;
            }
            for (int base = 0; base < threads; base += WARP_SIZE) {
                int end = std::min(threads, base + WARP_SIZE), waiting = 0, exited = 0;
                for (int t = base; t < end; t++) {
                    if (block.fibers[t].state == State::AT_WARP_BARRIER) waiting++;
                    if (block.fibers[t].state == State::DONE) exited++;
                }
                if (waiting > 0 && waiting + exited == end - base) {
                    throw LaunchFailure("a warp shuffle with mask 0xffffffff in warp " + std::to_string(base / WARP_SIZE)
                            + " of block " + std::to_string(blockIdx.x) + " waits for lanes that have exited");
                }
            }
            throw LaunchFailure("deadlock in block " + std::to_string(blockIdx.x) + ": some threads wait at"
                    " __syncthreads while others wait at a warp shuffle (a barrier inside divergent code)");
        }
        int t = ready.front();
        ready.pop_front();
        Fiber& f = block.fibers[t];
        block.current = t;
        threadIdx = f.index;
        swapcontext(&block.scheduler, &f.context);
        if (!block.failure.empty()) throw LaunchFailure(block.failure + " (" + describe(f) + ")");
        if (f.state == State::DONE) {
            done++;
        } else if (f.state == State::AT_BLOCK_BARRIER) {
            atBlockBarrier++;
        } else if (f.state == State::AT_WARP_BARRIER) {
            int base = t / WARP_SIZE * WARP_SIZE, end = std::min(threads, base + WARP_SIZE);
            bool full = true;
            for (int lane = base; lane < end && full; lane++) full = block.fibers[lane].state == State::AT_WARP_BARRIER;
            if (full) {   // the warp goes on at once, lane 0 first
                for (int lane = end - 1; lane >= base; lane--) {
                    block.fibers[lane].state = State::READY;
                    ready.push_front(lane);
                }
            }
        }
    }
}

template <class F, class... A, std::size_t... I>
void call(F kernel, void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
}

template <class... A>
struct Invocation {
    void (*kernel)(A...);
    void** params;

    static void run(void* self) {
        auto* inv = static_cast<Invocation*>(self);
        call<void (*)(A...), A...>(inv->kernel, inv->params, std::index_sequence_for<A...>{});
    }
};

// Runs kernel<<<grid, block>>>(params...) block by block; 0 on success, otherwise 1 with `message` filled.
template <class... A>
int launch(void (*kernel)(A...), const unsigned* grid, const unsigned* blockShape, void** params, char* message,
           unsigned long messageSize) {
    Invocation<A...> invocation{kernel, params};
    int threads = (int) (blockShape[0] * blockShape[1] * blockShape[2]);
    thread_local std::vector<std::vector<char>> stackPool;
    Block block;
    block.fibers.resize(threads);
    block.exchange.assign(2 * (std::size_t) threads, 0);
    while ((int) stackPool.size() < threads) stackPool.emplace_back(STACK_BYTES);
    block.stacks.swap(stackPool);
    block.body = &Invocation<A...>::run;
    block.argument = &invocation;
    for (int t = 0; t < threads; t++) {
        block.fibers[t].index = pg_uint3{t % blockShape[0], t / blockShape[0] % blockShape[1],
                                         t / (blockShape[0] * blockShape[1])};
    }
    gridDim = pg_uint3{grid[0], grid[1], grid[2]};
    blockDim = pg_uint3{blockShape[0], blockShape[1], blockShape[2]};
    Block* outer = running;
    running = &block;
    int status = 0;
    try {
        for (unsigned z = 0; z < grid[2]; z++) {
            for (unsigned y = 0; y < grid[1]; y++) {
                for (unsigned x = 0; x < grid[0]; x++) {
                    blockIdx = pg_uint3{x, y, z};
                    run_block(block);
                }
            }
        }
    } catch (const LaunchFailure& f) {
        std::snprintf(message, messageSize, "%s", f.message.c_str());
        status = 1;
    }
    running = outer;
    block.stacks.swap(stackPool);
    return status;
}

}  // namespace pg_emulator

inline void __syncthreads() {
    pg_emulator::suspend(pg_emulator::State::AT_BLOCK_BARRIER);
}

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
    return pg_emulator::shuffle(mask, value, pg_emulator::shuffle_down_source, (int) delta, "__shfl_down_sync");
}

template <class T>
T __shfl_xor_sync(unsigned mask, T value, int laneMask) {
    return pg_emulator::shuffle(mask, value, pg_emulator::shuffle_xor_source, laneMask, "__shfl_xor_sync");
}

// The emulated NVRTC appends one of these per extern "C" __global__ function of the source.
#define PG_EMULATED_ENTRY(kernel)                                                                           \
    extern "C" int pg_emulated_entry_##kernel(const unsigned* grid, const unsigned* block, void** params,  \
                                              char* message, unsigned long messageSize) {                  \
        return pg_emulator::launch(kernel, grid, block, params, message, messageSize);                      \
    }
