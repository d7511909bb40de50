import Foundation
import RNNKit
import RNNKitCHeader

// rnnkit.h's "Data files" section: `.ts` classification sets and safetensors
// data sets, read into buffers C can point at.

@c(rnnkit_data_load)
public func dataLoad(_ path: UnsafePointer<CChar>?, _ data: UnsafeMutablePointer<OpaquePointer?>?) -> rnnkit_status {
    withStatus {
        guard let data else { throw InterfaceError.null("data") }
        let url = URL(fileURLWithPath: try string(path, "path"))
        data.pointee = handle(
            url.pathExtension.lowercased() == "ts"
                ? DataHandle(try TimeSeriesClassificationSet(contentsOf: url))
                : DataHandle(try TensorDataset(contentsOf: url)))
    }
}

extension DataHandle {
    convenience init(_ set: TimeSeriesClassificationSet) {
        self.init(
            count: set.count, timeSteps: set.maxLength, inputSize: set.dimensions, features: set.values,
            lengths: set.lengths, targetKind: Int32(RNNKIT_TARGETS_CLASSES), targetSize: 1, targetValues: nil,
            targetClasses: set.labels, classNames: set.classNames)
    }

    convenience init(_ set: TensorDataset) {
        let (kind, size, values, classes): (Int, Int, [Float]?, [Int32]?) =
            switch set.targets {
            case .classes(let labels): (RNNKIT_TARGETS_CLASSES, 1, nil, labels)
            case .sequenceClasses(let labels): (RNNKIT_TARGETS_STEP_CLASSES, 1, nil, labels)
            case .vectors(let values, let features): (RNNKIT_TARGETS_VALUES, features, values, nil)
            case .sequences(let values, let features): (RNNKIT_TARGETS_STEP_VALUES, features, values, nil)
            }
        self.init(
            count: set.count, timeSteps: set.timeSteps, inputSize: set.inputSize, features: set.inputs,
            lengths: set.lengths, targetKind: Int32(kind), targetSize: size, targetValues: values,
            targetClasses: classes, classNames: [])
    }
}

@c(rnnkit_data_get_info)
public func dataGetInfo(_ data: OpaquePointer?, _ info: UnsafeMutablePointer<rnnkit_data_info>?) -> rnnkit_status {
    withStatus {
        let data = try object(data, "data", as: DataHandle.self)
        guard let info else { throw InterfaceError.null("info") }
        info.pointee = rnnkit_data_info(
            count: Int64(data.count), time_steps: Int64(data.timeSteps), input_size: Int64(data.inputSize),
            has_lengths: data.lengths == nil ? 0 : 1, targets: data.targetKind, target_size: Int64(data.targetSize),
            class_count: Int64(data.classNames.count))
    }
}

@c(rnnkit_data_batch)
public func dataBatch(_ data: OpaquePointer?, _ batch: UnsafeMutablePointer<rnnkit_batch>?) -> rnnkit_status {
    withStatus {
        let data = try object(data, "data", as: DataHandle.self)
        guard let batch else { throw InterfaceError.null("batch") }
        batch.pointee = rnnkit_batch(
            count: Int64(data.count), time_steps: Int64(data.timeSteps),
            features: UnsafePointer(data.features.baseAddress), features_count: Int64(data.features.count),
            tokens: nil, tokens_count: 0, lengths: UnsafePointer(data.lengths?.baseAddress), decoder_inputs: nil,
            decoder_inputs_count: 0, decoder_time_steps: 0,
            target_values: UnsafePointer(data.targetValues?.baseAddress),
            target_values_count: Int64(data.targetValues?.count ?? 0),
            target_classes: UnsafePointer(data.targetClasses?.baseAddress),
            target_classes_count: Int64(data.targetClasses?.count ?? 0))
    }
}

@c(rnnkit_data_class_name)
public func dataClassName(
    _ data: OpaquePointer?, _ index: Int64, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> rnnkit_status {
    withStatus {
        let data = try object(data, "data", as: DataHandle.self)
        guard let name else { throw InterfaceError.null("name") }
        name.pointee = try entry(index, of: data.classNames, "class")
    }
}

@c(rnnkit_data_free)
public func dataFree(_ data: OpaquePointer?) { release(data) }
