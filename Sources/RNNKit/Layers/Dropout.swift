import RNNKernels

/// Dropout between stacked layers (PyTorch's `dropout=`): in training, each
/// output of every layer but the last is zeroed with probability `p` and the
/// others scaled by `1 / (1 - p)` before the next layer reads them.
///
/// The masks are never stored: each element's draw is a hash of the
/// trainer's seed and step, the stack, the layer, the sequence's row in the
/// batch it came from, its position and its feature (counter-based random
/// numbers). So a mask does not depend on how a mini-batch is split into
/// shards, threads, micro-batches or processes, a resumed run draws the same
/// masks, and backward recomputes the forward pass's mask where it needs it.
struct Dropout {
    /// A draw below this (of 2^32) keeps the element.
    let keepBelow: UInt32
    /// `1 / (1 - p)`, as PyTorch scales what it keeps.
    let scale: Float
    /// The seed and step (and stack), mixed.
    private var key: UInt64

    /// Dropout with probability `probability` (in `(0, 1)`) for the training
    /// pass keyed by `seed` and `step`.
    init(probability: Float, seed: UInt64, step: Int) {
        let keep = 1 - Double(probability)
        keepBelow = UInt32(min(keep * 0x1p32, Double(UInt32.max)).rounded())
        scale = 1 / Float(keep)
        key = SeededGenerator.mix(seed &+ SeededGenerator.golden &* UInt64(truncatingIfNeeded: step))
    }

    /// The masks of stack `stack` (an encoder-decoder model has two).
    func stack(_ stack: Int) -> Dropout {
        var masks = self
        masks.key = SeededGenerator.mix(key ^ UInt64(truncatingIfNeeded: stack))
        return masks
    }

    /// Multiplies `values` (`width` features of sequence `sequence` at
    /// position `time` of layer `layer`'s output) by their mask elements:
    /// the forward pass on outputs, and backward on their gradients.
    func apply(
        to values: UnsafeMutablePointer<Float>, width: Int, layer: Int, sequence: Int, time: Int, kernels: Kernels
    ) {
        let position = SeededGenerator.mix(
            SeededGenerator.mix(key ^ UInt64(truncatingIfNeeded: layer) << 48 ^ UInt64(truncatingIfNeeded: sequence))
                &+ UInt64(truncatingIfNeeded: time))
        kernels.dropout(values, count: width, key: position, keepBelow: keepBelow, scale: scale)
    }
}

/// A pass's dropout over one shard: its masks, and the batch row each of the
/// shard's rows came from, which keys them.
struct ShardDropout {
    let masks: Dropout
    /// `[rows]`.
    let sequences: UnsafePointer<Int32>
}
