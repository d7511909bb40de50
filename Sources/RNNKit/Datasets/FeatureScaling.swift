import Foundation

/// A per-feature affine scaling, `(value - mean) / deviation`, fitted on
/// training data and applied unchanged to validation and test data.
///
/// Every `deviation` is positive and finite; a feature that is constant in
/// the data it was fitted on gets deviation 1, so that it scales to zero
/// instead of dividing by zero. It encodes as `{"mean": [...], "deviation": [...]}`
/// and is validated when decoded.
public struct FeatureScaling: Sendable, Equatable, Codable {
    /// Each feature's mean.
    public let mean: [Float]
    /// Each feature's standard deviation (population), all positive.
    public let deviation: [Float]

    /// The number of features.
    public var features: Int { mean.count }

    /// A scaling from its parameters.
    ///
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` unless
    ///   both arrays have the same, non-zero count, every value is finite and
    ///   every deviation positive.
    public init(mean: [Float], deviation: [Float]) throws(DatasetError) {
        guard !mean.isEmpty, mean.count == deviation.count else {
            throw .invalidArgument(
                name: "scaling", value: "with \(mean.count) means and \(deviation.count) deviations",
                expected: "as many of each, at least one")
        }
        if let bad = mean.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(name: "scaling mean[\(bad)]", value: "\(mean[bad])", expected: "a finite number")
        }
        if let bad = deviation.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw .invalidArgument(
                name: "scaling deviation[\(bad)]", value: "\(deviation[bad])", expected: "a positive finite number")
        }
        self.mean = mean
        self.deviation = deviation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let mean = try container.decode([Float].self, forKey: .mean)
        let deviation = try container.decode([Float].self, forKey: .deviation)
        do {
            try self.init(mean: mean, deviation: deviation)
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// `values` with its innermost dimension of `features` scaled: `(x - mean) / deviation`.
    ///
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` if
    ///   `values.count` is not a multiple of `features`.
    public func scale(_ values: [Float]) throws(DatasetError) -> [Float] {
        try check(values)
        return try finite(
            values.indices.map { (values[$0] - mean[$0 % features]) / deviation[$0 % features] }, scaling: "scaled")
    }

    /// The inverse of ``scale(_:)``, `x * deviation + mean`: turns a model's
    /// scaled predictions (innermost dimension `features`) back into data units.
    public func unscale(_ values: [Float]) throws(DatasetError) -> [Float] {
        try check(values)
        return try finite(
            values.indices.map { values[$0] * deviation[$0 % features] + mean[$0 % features] }, scaling: "unscaled")
    }

    /// `values` if all are finite: a deviation tiny (or huge) for the data
    /// can take a finite value past `Float`'s range.
    private func finite(_ values: [Float], scaling: String) throws(DatasetError) -> [Float] {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return values }
        throw .invalidArgument(
            name: "\(scaling) value[\(bad)]", value: "\(values[bad])",
            expected:
                "a finite number; deviation[\(bad % features)] \(deviation[bad % features]) is out of scale with the "
                + "data"
        )
    }

    private func check(_ values: [Float]) throws(DatasetError) {
        guard values.count % features == 0 else {
            throw .invalidArgument(
                name: "value count", value: "\(values.count)",
                expected: "a multiple of \(features), the number of features the scaling was fitted on")
        }
    }

    /// Fits a scaling with two passes over the values `visitAll` reports, as
    /// (feature, value) pairs; sums are in `Double`. A feature with no values
    /// gets mean 0 and deviation 1.
    static func _fit(features: Int, _ visitAll: (_ visit: (Int, Float) -> Void) -> Void) -> FeatureScaling {
        var sums = [Double](repeating: 0, count: features)
        var counts = [Int](repeating: 0, count: features)
        visitAll { feature, value in
            sums[feature] += Double(value)
            counts[feature] += 1
        }
        let means = features == 0 ? [] : (0..<features).map { counts[$0] == 0 ? 0 : sums[$0] / Double(counts[$0]) }
        var squares = [Double](repeating: 0, count: features)
        visitAll { feature, value in
            let difference = Double(value) - means[feature]
            squares[feature] += difference * difference
        }
        let deviations = (0..<features).map { feature -> Float in
            guard counts[feature] > 0 else { return 1 }
            let deviation = Float((squares[feature] / Double(counts[feature])).squareRoot())
            // Constant (or nearly so) features would blow up; leave them unscaled.
            guard deviation > 1e-12 else { return 1 }
            return deviation.isFinite ? deviation : .greatestFiniteMagnitude
        }
        return FeatureScaling(_unchecked: means.map { Float($0) }, deviation: deviations)
    }

    private init(_unchecked mean: [Float], deviation: [Float]) {
        self.mean = mean
        self.deviation = deviation
    }
}
