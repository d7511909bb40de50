import Foundation
import RNNKit
import RNNKitCHeader
import RNNKernels

// rnnkit.h's "Models" section: configuration, files and parameters by name.

@c(rnnkit_version)
public func version() -> UInt32 {
    UInt32(RNNKIT_VERSION_MAJOR * 10000 + RNNKIT_VERSION_MINOR * 100 + RNNKIT_VERSION_PATCH)
}

@c(rnnkit_model_config_init)
public func modelConfigInit(_ config: UnsafeMutablePointer<rnnkit_model_config>?) {
    guard let config else { return }
    config.pointee = rnnkit_model_config(
        struct_size: UInt32(MemoryLayout<rnnkit_model_config>.size), cell: Int32(RNNKIT_CELL_LSTM),
        input: Int32(RNNKIT_INPUT_DENSE), topology: Int32(RNNKIT_MANY_TO_ONE), input_size: 0, embedding_size: 0,
        hidden_size: 0, num_layers: 1, bidirectional: 0, bias: 1, head: Int32(RNNKIT_HEAD_LINEAR), output_size: 0,
        vocabulary: nil, dropout: 0, proj_size: 0)
}

/// The C spellings of the configuration's enums, in the header's order.
private let cells: [CellKind] = [.lstm, .gru, .rnnTanh, .rnnReLU, .layerNormLSTM]
private let topologies: [Topology] = [.manyToMany, .manyToOne, .oneToOne, .oneToMany, .encoderDecoder]
private let heads: [OutputHead] = [.linear, .identity]

private func lookup<T>(_ table: [T], _ value: Int32, _ name: String) throws -> T {
    guard let index = Int(exactly: value), table.indices.contains(index) else {
        throw InterfaceError.invalid("\(name) is \(value), expected 0...\(table.count - 1)")
    }
    return table[index]
}

private func configuration(_ c: rnnkit_model_config) throws -> ModelConfiguration {
    let sizes = 0...Int(Int32.max)
    let vocabulary = try c.vocabulary.map { try string($0, "vocabulary") } ?? ""
    var inputSize = try count(c.input_size, "input_size", in: sizes)
    // Only Swift counts characters as the model does (grapheme clusters), so 0 asks it to.
    if inputSize == 0, c.input != Int32(RNNKIT_INPUT_DENSE) { inputSize = vocabulary.count }
    let input: InputEncoding =
        switch c.input {
        case Int32(RNNKIT_INPUT_DENSE): .dense(features: inputSize)
        case Int32(RNNKIT_INPUT_EMBEDDING):
            .embedding(vocabularySize: inputSize, dimension: try count(c.embedding_size, "embedding_size", in: sizes))
        case Int32(RNNKIT_INPUT_ONE_HOT): .oneHot(vocabularySize: inputSize)
        default: throw InterfaceError.invalid("input is \(c.input), expected 0...2")
        }
    let configuration = ModelConfiguration(
        cell: try lookup(cells, c.cell, "cell"), input: input,
        hiddenSize: try count(c.hidden_size, "hidden_size", in: sizes),
        layers: try count(c.num_layers, "num_layers", in: sizes),
        bidirectional: try flag(c.bidirectional, "bidirectional"),
        outputSize: try count(c.output_size, "output_size", in: sizes),
        topology: try lookup(topologies, c.topology, "topology"), vocabulary: Array(vocabulary),
        head: try lookup(heads, c.head, "head"), bias: try flag(c.bias, "bias"), dropout: c.dropout,
        projectionSize: try count(c.proj_size, "proj_size", in: sizes))
    try configuration.validate()
    return configuration
}

@c(rnnkit_model_create)
public func modelCreate(
    _ config: UnsafePointer<rnnkit_model_config>?, _ seed: UInt64, _ model: UnsafeMutablePointer<OpaquePointer?>?
) -> rnnkit_status {
    withStatus {
        guard let model else { throw InterfaceError.null("model") }
        let c = try filled(config, "config") { $0.struct_size }
        model.pointee = handle(ModelHandle(try Model(try configuration(c), seed: seed)))
    }
}

@c(rnnkit_model_load)
public func modelLoad(_ path: UnsafePointer<CChar>?, _ model: UnsafeMutablePointer<OpaquePointer?>?) -> rnnkit_status {
    withStatus {
        guard let model else { throw InterfaceError.null("model") }
        let url = URL(fileURLWithPath: try string(path, "path"))
        model.pointee = handle(ModelHandle(try Model(contentsOf: url)))
    }
}

@c(rnnkit_model_save)
public func modelSave(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        try model.write(to: URL(fileURLWithPath: try string(path, "path")))
    }
}

@c(rnnkit_model_free)
public func modelFree(_ model: OpaquePointer?) { release(model) }

@c(rnnkit_model_get_config)
public func modelGetConfig(_ model: OpaquePointer?, _ config: UnsafeMutablePointer<rnnkit_model_config>?)
    -> rnnkit_status
{
    withStatus {
        let handle = try object(model, "model", as: ModelHandle.self)
        guard let config else { throw InterfaceError.null("config") }
        let c = handle.model.configuration
        let (input, inputSize, embeddingSize): (Int, Int, Int) =
            switch c.input {
            case .dense(let features): (RNNKIT_INPUT_DENSE, features, 0)
            case .embedding(let vocabularySize, let dimension): (RNNKIT_INPUT_EMBEDDING, vocabularySize, dimension)
            case .oneHot(let vocabularySize): (RNNKIT_INPUT_ONE_HOT, vocabularySize, 0)
            }
        config.pointee = rnnkit_model_config(
            struct_size: UInt32(MemoryLayout<rnnkit_model_config>.size), cell: Int32(cells.firstIndex(of: c.cell)!),
            input: Int32(input), topology: Int32(topologies.firstIndex(of: c.topology)!),
            input_size: Int64(inputSize), embedding_size: Int64(embeddingSize), hidden_size: Int64(c.hiddenSize),
            num_layers: Int64(c.layers), bidirectional: c.bidirectional ? 1 : 0, bias: c.bias ? 1 : 0,
            head: Int32(heads.firstIndex(of: c.head)!), output_size: Int64(c.outputSize),
            vocabulary: UnsafePointer(handle.vocabulary), dropout: c.dropout, proj_size: Int64(c.projectionSize))
    }
}

// MARK: - Parameters

@c(rnnkit_model_parameter_count)
public func modelParameterCount(
    _ model: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?, _ elements: UnsafeMutablePointer<Int64>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        guard let count else { throw InterfaceError.null("count") }
        guard let elements else { throw InterfaceError.null("elements") }
        count.pointee = Int64(model.parameterNames.count)
        elements.pointee = Int64(model.parameterCount)
    }
}

@c(rnnkit_model_kernels)
public func modelKernels(
    _ model: OpaquePointer?, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> rnnkit_status {
    withStatus {
        let handle = try object(model, "model", as: ModelHandle.self)
        guard let name else { throw InterfaceError.null("name") }
        name.pointee = UnsafePointer(instructionSetNames[handle.model.kernelSelection.instructionSet]!)
    }
}

/// Each instruction set's `RNNKIT_ISA` spelling as a C string, made once and
/// kept for the process (`nonisolated(unsafe)`: never written after it is made).
nonisolated(unsafe) private let instructionSetNames = Dictionary(
    uniqueKeysWithValues: InstructionSet.allCases.map { ($0, cString($0.rawValue)) })

@c(rnnkit_model_parameter_name)
public func modelParameterName(
    _ model: OpaquePointer?, _ index: Int64, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> rnnkit_status {
    withStatus {
        let handle = try object(model, "model", as: ModelHandle.self)
        guard let name else { throw InterfaceError.null("name") }
        name.pointee = try entry(index, of: handle.parameterNames, "parameter")
    }
}

/// The shape of tensor `name` of `model`, or NOT_FOUND naming what exists.
private func shape(of name: UnsafePointer<CChar>?, in model: Model) throws -> (name: String, shape: [Int]) {
    let name = try string(name, "name")
    guard let shape = model.shape(of: name) else {
        throw InterfaceError.notFound(
            "the model has no parameter '\(name)'; it has \(model.parameterNames.joined(separator: ", "))")
    }
    return (name, shape)
}

@c(rnnkit_model_parameter_shape)
public func modelParameterShape(
    _ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ shape: UnsafeMutablePointer<Int64>?,
    _ capacity: Int32, _ rank: UnsafeMutablePointer<Int32>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        guard let rank else { throw InterfaceError.null("rank") }
        let tensor = try RNNKitC.shape(of: name, in: model)
        guard capacity >= 0 else { throw InterfaceError.invalid("capacity is \(capacity), expected 0 or more") }
        let written = min(Int(capacity), tensor.shape.count)
        if written > 0 {
            guard let shape else { throw InterfaceError.null("shape (with capacity \(capacity))") }
            for axis in 0..<written { shape[axis] = Int64(tensor.shape[axis]) }
        }
        rank.pointee = Int32(tensor.shape.count)
    }
}

@c(rnnkit_model_get_parameter)
public func modelGetParameter(
    _ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ values: UnsafeMutablePointer<Float>?, _ count: Int64
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        let tensor = try shape(of: name, in: model)
        try store(model.parameter(tensor.name)!, into: values, count: count, "values of '\(tensor.name)'")
    }
}

@c(rnnkit_model_set_parameter)
public func modelSetParameter(
    _ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ values: UnsafePointer<Float>?, _ count: Int64
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        let tensor = try shape(of: name, in: model)
        let expected = tensor.shape.reduce(1, *)
        guard count == Int64(expected) else {
            throw InterfaceError.mismatch(
                "'\(tensor.name)' has shape \(tensor.shape) (\(expected) floats), the call passes \(count)")
        }
        let copy = try copied(values, count: count, "values") ?? []
        // A NaN would spread through every output and gradient, and no file could hold it.
        if let element = copy.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.nonFiniteParameter(
                name: tensor.name, element: element, value: copy[element], source: "rnnkit_model_set_parameter")
        }
        try model.setParameter(tensor.name, to: copy)
    }
}
