import Foundation
import RNNKit

/// `--streaming`: microseconds per step of `StepRunner` (a model stepped one
/// position at a time, its state carried), at 1 and 8 streams, on a
/// character model (a one-hot LSTM of 256 units over 65 characters)
/// or on each `--shape` (dense input, no head; BATCH and SEQ unused).
enum StreamingBench {
    static let streamCounts = [1, 8]

    /// A character model of 256 units.
    static let characterModel = ModelConfiguration(
        cell: .lstm, input: .oneHot(vocabularySize: 65), hiddenSize: 256, outputSize: 65, topology: .manyToMany)

    static func run(_ options: BenchOptions) -> Int32 {
        let models: [(String, ModelConfiguration)] =
            options.shapes.isEmpty
            ? [("char lstm 256, one-hot 65", characterModel)] : options.shapes.map { ($0.name, $0.configuration) }
        if !options.json {
            print("model".padding(toLength: 40, withPad: " ", startingAt: 0) + "streams  µs/step  µs/step/stream")
        }
        for (name, configuration) in models {
            for streams in streamCounts {
                let microseconds: Double
                do {
                    microseconds = try measure(configuration, streams: streams, seconds: max(options.minTime, 0.2))
                } catch {
                    fail("\(name): \(error)", status: 1)
                }
                if options.json {
                    print(
                        String(
                            format: "{\"streaming\":\"%@\",\"streams\":%d,\"us_per_step\":%.3f}", name, streams,
                            microseconds))
                } else {
                    print(
                        name.padding(toLength: 40, withPad: " ", startingAt: 0)
                            + String(
                                format: "%7d  %7.2f  %14.2f", streams, microseconds, microseconds / Double(streams)))
                }
            }
        }
        return 0
    }

    /// The best of five rounds of `seconds / 5`, in microseconds per step,
    /// after 200 steps of warm-up.
    static func measure(_ configuration: ModelConfiguration, streams: Int, seconds: Double) throws -> Double {
        let model = try Model(configuration, seed: 1)
        let runner = try StepRunner(model: model, count: streams)
        let inputs: SequenceBatch.Inputs =
            configuration.input.readsTokens
            ? .tokens((0..<streams).map { Int32($0 % (configuration.vocabularySize ?? 1)) })
            : .features((0..<streams * configuration.input.rnnInputSize).map { Float($0 % 7) / 7 - 0.5 })
        var outputs = [Float](repeating: 0, count: streams * configuration.outputSize)
        for _ in 0..<200 { try runner.step(inputs, into: &outputs) }
        var best = Double.infinity
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            var steps = 0, elapsed = 0.0
            repeat {
                for _ in 0..<50 { try runner.step(inputs, into: &outputs) }
                steps += 50
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            } while elapsed < seconds / 5
            best = min(best, elapsed / Double(steps) * 1e6)
        }
        return best
    }
}
