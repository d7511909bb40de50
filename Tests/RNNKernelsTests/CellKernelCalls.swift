import RNNKernels

// The tests call each cell's kernels with its buffers named, as its scalar
// reference describes them; these put the buffers where the one cell-kernel
// interface carries them and run the selected variant's pair.

private func cellKernels(_ name: String, _ step: CellStep) -> CellKernelPair {
    guard let pair = Kernels.current.cell(named: name, hiddenSize: step.hiddenSize) else {
        fatalError("no cell kernels named \(name)")
    }
    return pair
}

enum VanillaRNNKernel {
    static func forward(_ step: CellStep, relu: Bool) {
        cellKernels(relu ? "rnn_relu" : "rnn_tanh", step).forward(step)
    }

    static func backward(_ step: CellStep, _ gradient: CellGradientStep, relu: Bool) {
        cellKernels(relu ? "rnn_relu" : "rnn_tanh", step).backward(step, gradient)
    }
}

enum LSTMKernel {
    static func forward(_ step: CellStep, previousCell: UnsafePointer<Float>, cell: UnsafeMutablePointer<Float>) {
        var step = step
        (step.previousCell, step.cell) = (previousCell, cell)
        cellKernels("lstm", step).forward(step)
    }

    static func backward(
        _ step: CellStep, _ gradient: CellGradientStep, previousCell: UnsafePointer<Float>,
        cell: UnsafePointer<Float>, cellGradient: UnsafeMutablePointer<Float>
    ) {
        var (step, gradient) = (step, gradient)
        (step.previousCell, step.cell, gradient.cell) = (
            previousCell, UnsafeMutablePointer(mutating: cell), cellGradient
        )
        cellKernels("lstm", step).backward(step, gradient)
    }
}

enum GRUKernel {
    static func forward(
        _ step: CellStep, recurrent: UnsafePointer<Float>, recurrentBias: UnsafePointer<Float>,
        candidateRecurrent: UnsafeMutablePointer<Float>
    ) {
        var step = step
        (step.recurrent, step.cellParameters, step.saved) = (
            UnsafeMutablePointer(mutating: recurrent), recurrentBias,
            candidateRecurrent
        )
        cellKernels("gru", step).forward(step)
    }

    static func backward(
        _ step: CellStep, _ gradient: CellGradientStep, candidateRecurrent: UnsafeMutablePointer<Float>,
        recurrentGradient: UnsafeMutablePointer<Float>
    ) {
        var step = step
        (step.recurrent, step.saved) = (recurrentGradient, candidateRecurrent)
        cellKernels("gru", step).backward(step, gradient)
    }
}
