import RNNKit

/// The file readers under test, each fed one input as the whole file.
///
/// A reader may accept the bytes or throw; anything else (a trap, a memory
/// error, a hang, an invariant broken below) is a bug. After a successful
/// parse each harness takes a few more steps a program would take with the
/// result, so that what the reader built is used, not only built.
enum Reader: String, CaseIterable {
    case safetensors, ts, csv, text

    func read(_ bytes: [UInt8]) {
        switch self {
        case .safetensors:
            guard let file = try? SafetensorsFile(bytes: bytes, source: "fuzz.safetensors") else { return }
            for (name, tensor) in file.tensors {
                check(tensor.elementCount == tensor.shape.reduce(1, *), "\(name): element count and shape differ")
                _ = try? tensor.floats()
                _ = try? tensor.integers()
            }
            // A model file is a safetensors file whose metadata describes the model.
            _ = try? Model(file: file)
        case .ts:
            let missingValues: TimeSeriesClassificationSet.MissingValues =
                bytes.count % 2 == 0 ? .reject : .carryForward
            guard
                let set = try? TimeSeriesClassificationSet(
                    bytes: bytes, source: "fuzz.ts", missingValues: missingValues)
            else { return }
            check(set.values.count == set.count * set.maxLength * set.dimensions, "values do not fill [N, T, D]")
            check(set.lengths.allSatisfy { $0 >= 1 && Int($0) <= set.maxLength }, "a length is outside 1...T")
            check(set.labels.allSatisfy { $0 >= 0 && Int($0) < set.classNames.count }, "a label is not a class")
            _ = try? set.normalized(using: set.fitScaling()).batch()
        case .csv:
            guard let series = try? ForecastingSeries(bytes: bytes, source: "fuzz.csv") else { return }
            check(series.values.count == series.length * series.columnCount, "values do not fill [length, columns]")
            check(series.values.allSatisfy(\.isFinite), "a value is not finite")
            _ = try? series.scaled(series.fitScaling(range: 0..<series.length)).windows(length: 1)
        case .text:
            guard let corpus = try? TextCorpus(bytes: bytes, source: "fuzz.txt") else { return }
            check(
                corpus.tokens.allSatisfy { $0 >= 0 && Int($0) < corpus.vocabulary.count },
                "a token is outside the vocabulary")
            let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
            check(
                corpus.decode(corpus.tokens) == String(decoding: body, as: UTF8.self),
                "decoding does not give the text back")
        }
    }

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("\(rawValue) reader: \(message())") }
    }
}
