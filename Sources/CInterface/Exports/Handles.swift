import Foundation
import RNNKit
import RNNKitCHeader

// The objects behind the opaque handles. A handle is a retained reference
// (`Unmanaged`) to one of these; `_free` releases it.

/// A model with what C reads from it by pointer: its tensor names and
/// vocabulary as C strings, alive as long as the handle.
final class ModelHandle {
    let model: Model
    let parameterNames: [UnsafeMutablePointer<CChar>]
    let vocabulary: UnsafeMutablePointer<CChar>
    /// Kept across `rnnkit_model_predict` calls with the same thread count, for its buffers.
    var predictor: (threads: Int?, predictor: Predictor)?

    init(_ model: Model) {
        self.model = model
        parameterNames = model.parameterNames.map(cString)
        vocabulary = cString(String(model.configuration.vocabulary))
    }

    deinit {
        parameterNames.forEach { free($0) }
        free(vocabulary)
    }

    func predictor(threads: Int?) -> Predictor {
        if let predictor, predictor.threads == threads { return predictor.predictor }
        let made = Predictor(model: model, threads: threads)
        predictor = (threads, made)
        return made
    }
}

final class TrainerHandle {
    /// Holds the model handle so that freeing it first leaves the trainer working.
    let model: ModelHandle
    let trainer: Trainer

    init(model: ModelHandle, trainer: Trainer) {
        self.model = model
        self.trainer = trainer
    }
}

/// A data set read from a file, in buffers whose addresses stay put so that
/// `rnnkit_data_batch` can hand them out.
final class DataHandle {
    let count: Int
    let timeSteps: Int
    let inputSize: Int
    let features: UnsafeMutableBufferPointer<Float>
    let lengths: UnsafeMutableBufferPointer<Int32>?
    let targetKind: Int32
    let targetSize: Int
    let targetValues: UnsafeMutableBufferPointer<Float>?
    let targetClasses: UnsafeMutableBufferPointer<Int32>?
    let classNames: [UnsafeMutablePointer<CChar>]

    init(
        count: Int, timeSteps: Int, inputSize: Int, features: [Float], lengths: [Int32]?, targetKind: Int32,
        targetSize: Int, targetValues: [Float]?, targetClasses: [Int32]?, classNames: [String]
    ) {
        func pinned<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            return buffer
        }
        self.count = count
        self.timeSteps = timeSteps
        self.inputSize = inputSize
        self.features = pinned(features)
        self.lengths = lengths.map(pinned)
        self.targetKind = targetKind
        self.targetSize = targetSize
        self.targetValues = targetValues.map(pinned)
        self.targetClasses = targetClasses.map(pinned)
        self.classNames = classNames.map(cString)
    }

    deinit {
        features.deallocate()
        lengths?.deallocate()
        targetValues?.deallocate()
        targetClasses?.deallocate()
        classNames.forEach { free($0) }
    }
}

// MARK: - Handles and their pointers

func handle(_ object: AnyObject) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(object).toOpaque()) }

/// The object behind `pointer`, a handle of type `T` the caller passed.
func object<T: AnyObject>(_ pointer: OpaquePointer?, _ name: String, as type: T.Type = T.self) throws -> T {
    guard let pointer else { throw InterfaceError.null(name) }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

func release(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(pointer)).release()
}

/// Entry `index` of a handle's C strings, or NOT_FOUND naming the valid range.
func entry(_ index: Int64, of strings: [UnsafeMutablePointer<CChar>], _ what: String) throws -> UnsafePointer<CChar> {
    guard let position = Int(exactly: index), strings.indices.contains(position) else {
        throw InterfaceError.notFound("\(what) index \(index) is outside 0..<\(strings.count)")
    }
    return UnsafePointer(strings[position])
}
