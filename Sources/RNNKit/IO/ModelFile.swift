import Foundation
import RNNKernels

// Model files are safetensors with PyTorch's parameter names; the header's
// `__metadata__` records what rebuilds the model.

extension ModelConfiguration {
    /// The `__metadata__` entries that describe this configuration.
    var metadata: [String: String] {
        var entries = [
            "format": "rnnkit-model",
            "cell": cell.rawValue,
            "input_size": String(input.rnnInputSize),
            "hidden_size": String(hiddenSize),
            "num_layers": String(layers),
            "bidirectional": bidirectional ? "true" : "false",
            "output_size": String(outputSize),
            "topology": topology.rawValue,
            "head": head.rawValue
        ]
        if !bias { entries["bias"] = "false" }
        if dropout > 0 { entries["dropout"] = String(dropout) }
        if projectionSize > 0 { entries["proj_size"] = String(projectionSize) }
        switch input {
        case .dense: entries["input_kind"] = "dense"
        case .embedding(let vocabularySize, let dimension):
            entries["input_kind"] = "embedding"
            entries["vocab_size"] = String(vocabularySize)
            entries["embedding_dim"] = String(dimension)
        case .oneHot(let vocabularySize):
            entries["input_kind"] = "one_hot"
            entries["vocab_size"] = String(vocabularySize)
        }
        if !vocabulary.isEmpty {
            entries["vocabulary"] = JSONValue.array(vocabulary.map { .string(String($0)) }).serialized()
        }
        return entries
    }

    /// Rebuilds a configuration from a model file's metadata (and, where the
    /// metadata is silent on the input kind, from which tensors exist).
    init(metadata: [String: String], tensorNames: Set<String>, source: String) throws(ModelError) {
        func value(_ key: String) throws(ModelError) -> String {
            guard let value = metadata[key] else { throw .metadata(key: key, problem: "is missing", source: source) }
            return value
        }
        func integer(_ key: String) throws(ModelError) -> Int {
            let text = try value(key)
            guard let number = Int(text), number > 0 else {
                throw .metadata(key: key, problem: "must be a positive integer, got '\(text)'", source: source)
            }
            return number
        }
        let cellName = try value("cell")
        guard let cell = CellKind(rawValue: cellName) else {
            throw .metadata(
                key: "cell",
                problem:
                    "must be one of \(CellKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(cellName)'",
                source: source)
        }
        let topologyName = try value("topology")
        guard let topology = Topology(rawValue: topologyName) else {
            throw .metadata(
                key: "topology",
                problem:
                    "must be one of \(Topology.allCases.map(\.rawValue).joined(separator: ", ")), got "
                    + "'\(topologyName)'",
                source: source)
        }
        func flag(_ key: String, default fallback: Bool? = nil) throws(ModelError) -> Bool {
            let text: String
            if let fallback { text = metadata[key] ?? String(fallback) } else { text = try value(key) }
            guard let flag = ["true": true, "false": false, "True": true, "False": false][text] else {
                throw .metadata(key: key, problem: "must be true or false, got '\(text)'", source: source)
            }
            return flag
        }
        let bidirectional = try flag("bidirectional")
        // PyTorch's bias=False; files without the key have biases.
        let bias = try flag("bias", default: true)
        // PyTorch's dropout=; files without the key have none.
        let dropoutText = metadata["dropout"] ?? "0"
        guard let dropout = Float(dropoutText), dropout >= 0, dropout < 1 else {
            throw .metadata(key: "dropout", problem: "must be a number in [0, 1), got '\(dropoutText)'", source: source)
        }
        // PyTorch's proj_size; files without the key (or with 0) have no projections.
        let projectionText = metadata["proj_size"] ?? "0"
        guard let projectionSize = Int(projectionText), projectionSize >= 0 else {
            throw .metadata(
                key: "proj_size", problem: "must be a non-negative integer, got '\(projectionText)'", source: source)
        }
        let inputSize = try integer("input_size")
        let kind = metadata["input_kind"] ?? (tensorNames.contains("embedding.weight") ? "embedding" : "dense")
        let input: InputEncoding
        switch kind {
        case "dense": input = .dense(features: inputSize)
        case "embedding": input = .embedding(vocabularySize: try integer("vocab_size"), dimension: inputSize)
        case "one_hot": input = .oneHot(vocabularySize: inputSize)
        default:
            throw .metadata(
                key: "input_kind", problem: "must be dense, embedding or one_hot, got '\(kind)'", source: source)
        }
        // Files from before heads were optional have a linear head.
        let headName = metadata["head"] ?? OutputHead.linear.rawValue
        guard let head = OutputHead(rawValue: headName) else {
            throw .metadata(key: "head", problem: "must be linear or identity, got '\(headName)'", source: source)
        }
        var vocabulary: [Character] = []
        if let text = metadata["vocabulary"] {
            let items = (try? JSONValue(parsing: text))?.arrayValue ?? []
            let characters = items.compactMap(\.stringValue)
            guard !items.isEmpty, characters.count == items.count, characters.allSatisfy({ $0.count == 1 }) else {
                throw .metadata(
                    key: "vocabulary", problem: "must be a JSON array of one-character strings", source: source)
            }
            vocabulary = characters.map { Character($0) }
        }
        self.init(
            cell: cell, input: input, hiddenSize: try integer("hidden_size"), layers: try integer("num_layers"),
            bidirectional: bidirectional, outputSize: try integer("output_size"), topology: topology,
            vocabulary: vocabulary, head: head, bias: bias, dropout: dropout, projectionSize: projectionSize)
        do {
            try validate()
        } catch {
            throw .metadata(key: "model", problem: "describes an invalid model: \(error)", source: source)
        }
    }
}

extension Model {
    /// Loads a model file written by RNNKit or by PyTorch (`save_file(module.state_dict(), path, metadata)`).
    ///
    /// Every tensor is checked against the metadata: a missing, extra,
    /// misshapen or non-float parameter is an error naming the tensor.
    public convenience init(contentsOf url: URL) throws {
        try self.init(file: SafetensorsFile(contentsOf: url))
    }

    /// Builds a model from a parsed safetensors file.
    public convenience init(file: SafetensorsFile) throws {
        try Model.checkProcessor()
        let source = file.source
        if file.metadata["format"] == "rnnkit-checkpoint" {
            throw ModelError.metadata(
                key: "format",
                problem:
                    "is rnnkit-checkpoint: this is a training checkpoint, not a model file (read it with Checkpoint, "
                    + "or continue training with --resume)",
                source: source)
        }
        let configuration = try ModelConfiguration(
            metadata: file.metadata, tensorNames: Set(file.tensors.keys), source: source)
        let layout = ParameterLayout(configuration: configuration)
        // Every tensor's shape is checked before the parameters are allocated,
        // so that the file's own size bounds the allocation, whatever sizes
        // its metadata claims.
        for entry in layout.entries {
            guard let tensor = file.tensors[entry.name] else {
                throw ModelError.missingParameter(name: entry.name, source: source)
            }
            guard tensor.shape == entry.shape else {
                throw ModelError.parameterShape(
                    name: entry.name, expected: entry.shape, actual: tensor.shape, source: source)
            }
        }
        let parameters = try Model.allocate(count: layout.totalCount)
        for entry in layout.entries {
            let values = try file.floats(entry.name)
            guard let bad = values.firstIndex(where: { !$0.isFinite }) else {
                values.withUnsafeBufferPointer {
                    (parameters.baseAddress + entry.offset).update(from: $0.baseAddress!, count: entry.count)
                }
                continue
            }
            throw ModelError.nonFiniteParameter(name: entry.name, element: bad, value: values[bad], source: source)
        }
        if let extra = file.tensors.keys.sorted().first(where: { layout.entry($0) == nil }) {
            throw ModelError.unexpectedParameter(name: extra, source: source)
        }
        self.init(configuration: configuration, layout: layout, parameters: parameters)
    }

    /// The model as a safetensors file: parameters under PyTorch's names, the
    /// configuration in `__metadata__`, plus `extraMetadata`. Where an extra
    /// key is one the configuration writes (`cell`, `vocabulary`, ...), the
    /// configuration's value is kept, so the file always reads back as this model.
    public func safetensors(extraMetadata: [String: String] = [:]) -> SafetensorsFile {
        var tensors: [String: Tensor] = [:]
        for entry in layout.entries {
            tensors[entry.name] = Tensor(floats: parameter(entry.name)!, shape: entry.shape)
        }
        return SafetensorsFile(
            metadata: configuration.metadata.merging(extraMetadata) { current, _ in current },
            tensors: tensors)
    }

    /// Writes the model atomically: a reader never sees a partial file.
    ///
    /// - Throws: ``ModelError/nonFiniteParameter(name:element:value:source:)``
    ///   (and writes nothing) when a weight is NaN or infinite, as after
    ///   training that diverged: such a file could not be read back.
    public func write(to url: URL, extraMetadata: [String: String] = [:]) throws {
        for entry in layout.entries {
            let values = parameters.baseAddress + entry.offset
            if let bad = (0..<entry.count).first(where: { !values[$0].isFinite }) {
                throw ModelError.nonFiniteParameter(
                    name: entry.name, element: bad, value: values[bad], source: url.path)
            }
        }
        try safetensors(extraMetadata: extraMetadata).write(to: url)
    }
}
