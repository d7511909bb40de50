/// The running mean of a model's weights over some of its training steps
/// (stochastic weight averaging), summed in `Double`.
struct WeightAverage {
    private var sums: [[Double]]
    private var count = 0

    init(model: Model) { sums = model.parameterNames.map { _ in [] } }

    mutating func add(_ model: Model) {
        for (index, name) in model.parameterNames.enumerated() {
            let values = model.parameter(name)!
            if sums[index].isEmpty { sums[index] = [Double](repeating: 0, count: values.count) }
            for position in values.indices { sums[index][position] += Double(values[position]) }
        }
        count += 1
    }

    /// Replaces the model's weights with the mean; nothing when no step was added.
    func assign(to model: Model) throws {
        guard count > 0 else { return }
        for (index, name) in model.parameterNames.enumerated() {
            try model.setParameter(name, to: sums[index].map { Float($0 / Double(count)) })
        }
    }
}
