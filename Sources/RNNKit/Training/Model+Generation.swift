import Foundation

extension Model {
    /// One-to-many generation: each sequence starts from its vector in
    /// `inputs` (`[count, I]`), and every later step reads the previous
    /// step's output. Returns `[count, steps, O]`.
    public func generate(from inputs: [Float], count: Int, steps: Int) throws(ModelError) -> [Float] {
        guard configuration.topology == .oneToMany else {
            throw .inputMismatch(
                "generation feeds outputs back as inputs: it needs a one_to_many model, this one is "
                    + "\(configuration.topology.rawValue)"
            )
        }
        guard steps > 0 else { throw .inputMismatch("steps must be positive, got \(steps)") }
        let runner = try StepRunner(model: self, count: count)
        let width = configuration.outputSize
        guard let total = _checkedProduct(count, steps, width), total <= 1 << 31 else {
            throw .tooLarge("\(count) sequences of \(steps) steps of \(width) outputs exceed 2^31 floats")
        }
        var result = [Float](repeating: 0, count: total)
        var next = inputs
        for step in 0..<steps {
            next = try runner.step(.features(next))
            for row in 0..<count {
                for unit in 0..<width { result[(row * steps + step) * width + unit] = next[row * width + unit] }
            }
        }
        return result
    }
}
