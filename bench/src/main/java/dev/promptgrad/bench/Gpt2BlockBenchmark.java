package dev.promptgrad.bench;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.ops.Activation;
import dev.promptgrad.ops.Add;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.BiasAdd;
import dev.promptgrad.ops.LayerNorm;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.ops.Split;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;
import dev.promptgrad.tensor.Workspace;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One GPT-2-small transformer block (768 wide, 12 heads, MLP 3072) on the CPU backend, batch 4 × 148
 * positions (128 tokens + 20 virtual tokens): forward alone, and forward + backward to the block's input
 * with frozen weights (so backward is input-gradient GEMMs only). Built from core's ops, random weights.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class Gpt2BlockBenchmark {
    static final int BATCH = 4, POSITIONS = 148, DIM = 768, HEADS = 12, HIDDEN = 3072;

    private Backend backend;
    private Weights weights;
    private Scope inputs;
    private Workspace workspace;
    private Tape tape;
    private Tensor x;      // (BATCH, POSITIONS, DIM)
    private Tensor dOut;   // (BATCH, POSITIONS, DIM)

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend();
        weights = new Weights(backend, "gpt2-small block");
        put("ln_1.weight", 1f, DIM);
        put("ln_1.bias", 0f, DIM);
        weights.put("attn.c_attn.weight", GemmBenchmark.random(DIM * 3 * DIM, 11), DIM, 3 * DIM);
        weights.put("attn.c_attn.bias", GemmBenchmark.random(3 * DIM, 12), 3 * DIM);
        weights.put("attn.c_proj.weight", GemmBenchmark.random(DIM * DIM, 13), DIM, DIM);
        weights.put("attn.c_proj.bias", GemmBenchmark.random(DIM, 14), DIM);
        put("ln_2.weight", 1f, DIM);
        put("ln_2.bias", 0f, DIM);
        weights.put("mlp.c_fc.weight", GemmBenchmark.random(DIM * HIDDEN, 15), DIM, HIDDEN);
        weights.put("mlp.c_fc.bias", GemmBenchmark.random(HIDDEN, 16), HIDDEN);
        weights.put("mlp.c_proj.weight", GemmBenchmark.random(HIDDEN * DIM, 17), HIDDEN, DIM);
        weights.put("mlp.c_proj.bias", GemmBenchmark.random(DIM, 18), DIM);
        inputs = new Scope(backend, "block inputs");
        x = inputs.of(GemmBenchmark.random(BATCH * POSITIONS * DIM, 19), BATCH, POSITIONS, DIM);
        dOut = inputs.of(GemmBenchmark.random(BATCH * POSITIONS * DIM, 20), BATCH, POSITIONS, DIM);
        workspace = new Workspace(backend, "block step");
        tape = new Tape(backend, workspace);
    }

    private void put(String name, float value, int size) {
        float[] values = new float[size];
        java.util.Arrays.fill(values, value);
        weights.put(name, values, size);
    }

    /** HF GPT2Block: h + attn(ln_1(h)), then + mlp(ln_2(·)). */
    private Variable block(Variable h) {
        Variable a = LayerNorm.apply(tape, h, weights.get("ln_1.weight"), weights.get("ln_1.bias"), 1e-5);
        Variable qkv = BiasAdd.apply(tape, Linear.apply(tape, a, weights.get("attn.c_attn.weight"), Linear.Layout.IN_OUT),
                weights.get("attn.c_attn.bias"));
        Variable[] parts = Split.apply(tape, qkv, 3);
        Variable context = Attention.apply(tape, parts[0], parts[1], parts[2], HEADS, HEADS, true, null, null);
        Variable attn = BiasAdd.apply(tape, Linear.apply(tape, context, weights.get("attn.c_proj.weight"), Linear.Layout.IN_OUT),
                weights.get("attn.c_proj.bias"));
        Variable h1 = Add.apply(tape, h, attn);
        Variable m = LayerNorm.apply(tape, h1, weights.get("ln_2.weight"), weights.get("ln_2.bias"), 1e-5);
        Variable fc = BiasAdd.apply(tape, Linear.apply(tape, m, weights.get("mlp.c_fc.weight"), Linear.Layout.IN_OUT),
                weights.get("mlp.c_fc.bias"));
        Variable act = Activation.apply(tape, UnaryOp.GELU_TANH, fc);
        Variable proj = BiasAdd.apply(tape, Linear.apply(tape, act, weights.get("mlp.c_proj.weight"), Linear.Layout.IN_OUT),
                weights.get("mlp.c_proj.bias"));
        return Add.apply(tape, h1, proj);
    }

    @Benchmark
    public Tensor forward() {
        tape.reset();
        return block(tape.constant(x, "h")).value();
    }

    @Benchmark
    public Tensor forwardBackward() {
        tape.reset();
        Variable h = tape.parameter(x, "h");
        Variable out = block(h);
        return tape.backward(out, dOut).of(h);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        workspace.close();
        inputs.close();
        weights.close();
        backend.close();
    }
}
