import Foundation
import RNNKit
import RNNKitCHeader

// Every exported function runs its body through `withStatus`: a thrown error
// becomes a status code and the thread's last-error message, so no Swift
// error crosses into C.

/// A failure found at the boundary itself (a NULL pointer, a buffer of the
/// wrong size, an unknown enum value), with the status it returns.
struct InterfaceError: Error {
    let status: rnnkit_status
    let message: String

    static func null(_ what: String) -> InterfaceError {
        InterfaceError(status: rnnkit_status(RNNKIT_ERROR_NULL_POINTER), message: "\(what) is NULL")
    }

    static func invalid(_ message: String) -> InterfaceError {
        InterfaceError(status: rnnkit_status(RNNKIT_ERROR_INVALID_ARGUMENT), message: message)
    }

    static func mismatch(_ message: String) -> InterfaceError {
        InterfaceError(status: rnnkit_status(RNNKIT_ERROR_DATA_MISMATCH), message: message)
    }

    static func notFound(_ message: String) -> InterfaceError {
        InterfaceError(status: rnnkit_status(RNNKIT_ERROR_NOT_FOUND), message: message)
    }
}

/// Runs `body`, returning RNNKIT_OK, or the status of what it threw with the
/// message recorded for `rnnkit_last_error`.
func withStatus(_ body: () throws -> Void) -> rnnkit_status {
    do {
        try body()
        return rnnkit_status(RNNKIT_OK)
    } catch {
        let (status, message) = describe(error)
        rnnkit_internal_set_last_error(message)
        return status
    }
}

private func describe(_ error: any Error) -> (rnnkit_status, String) {
    func code(_ value: Int) -> rnnkit_status { rnnkit_status(value) }
    switch error {
    case let error as InterfaceError:
        return (error.status, error.message)
    case let error as ModelError:
        switch error {
        case .invalidConfiguration, .invalidSetting:
            return (code(RNNKIT_ERROR_INVALID_ARGUMENT), error.description)
        case .inputMismatch, .tooLarge, .nonFiniteParameter:
            return (code(RNNKIT_ERROR_DATA_MISMATCH), error.description)
        case .missingParameter, .parameterShape, .unexpectedParameter, .metadata:
            return (code(RNNKIT_ERROR_FORMAT), error.description)
        case .unsupportedProcessor:
            return (code(RNNKIT_ERROR_INTERNAL), error.description)
        }
    case let error as SafetensorsError:
        if case .io = error { return (code(RNNKIT_ERROR_FILE), error.description) }
        return (code(RNNKIT_ERROR_FORMAT), error.description)
    case let error as DatasetError:
        if case .io = error { return (code(RNNKIT_ERROR_FILE), error.description) }
        return (code(RNNKIT_ERROR_FORMAT), error.description)
    case let error as TrainingRunError:
        return (code(RNNKIT_ERROR_INVALID_ARGUMENT), error.description)
    case let error as TrainingDiverged:
        return (code(RNNKIT_ERROR_DIVERGED), error.description)
    case let error as TrainingCancelled:
        return (code(RNNKIT_ERROR_CANCELLED), error.description)
    case let error as CocoaError:
        return (code(RNNKIT_ERROR_FILE), error.localizedDescription)
    case let error as POSIXError:
        return (code(RNNKIT_ERROR_FILE), error.localizedDescription)
    default:
        return (code(RNNKIT_ERROR_INTERNAL), String(describing: error))
    }
}

// MARK: - Reading the caller's arguments

/// The value behind a pointer the call needs.
func required<T>(_ pointer: UnsafePointer<T>?, _ name: String) throws -> T {
    guard let pointer else { throw InterfaceError.null(name) }
    return pointer.pointee
}

/// A struct the caller filled, checked to be one its `_init` function made
/// for this header.
func filled<T>(_ pointer: UnsafePointer<T>?, _ name: String, size: (T) -> UInt32) throws -> T {
    let value = try required(pointer, name)
    guard size(value) == MemoryLayout<T>.size else {
        throw InterfaceError.invalid(
            "\(name) has struct_size \(size(value)), expected \(MemoryLayout<T>.size): "
                + "fill it with its _init function, from the rnnkit.h this library was built with")
    }
    return value
}

/// A NUL-terminated UTF-8 string the call needs.
func string(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let pointer else { throw InterfaceError.null(name) }
    guard let value = String(validatingCString: pointer) else { throw InterfaceError.invalid("\(name) is not UTF-8") }
    return value
}

/// A count the caller passed, as an `Int` in `range`.
func count(_ value: Int64, _ name: String, in range: ClosedRange<Int>) throws -> Int {
    guard let value = Int(exactly: value), range.contains(value) else {
        throw InterfaceError.invalid("\(name) is \(value), expected \(range.lowerBound)...\(range.upperBound)")
    }
    return value
}

/// A 0-or-1 field the caller set.
func flag(_ value: Int32, _ name: String) throws -> Bool {
    guard value == 0 || value == 1 else { throw InterfaceError.invalid("\(name) is \(value), expected 0 or 1") }
    return value == 1
}

/// Copies `count` elements from the caller's `pointer` (NULL only with count 0).
func copied<T>(_ pointer: UnsafePointer<T>?, count: Int64, _ name: String) throws -> [T]? {
    guard let pointer else {
        guard count == 0 else { throw InterfaceError.null("\(name) (with count \(count))") }
        return nil
    }
    // A bound that keeps a garbage count from becoming an allocation that ends the process.
    guard count >= 0, count <= 1 << 34 else {
        throw InterfaceError.mismatch("\(name)_count is \(count), expected 0...2^34")
    }
    return Array(UnsafeBufferPointer(start: pointer, count: Int(count)))
}

/// Writes `values` into the caller's buffer of `count` elements, which must
/// hold exactly as many.
func store<T>(_ values: [T], into buffer: UnsafeMutablePointer<T>?, count: Int64, _ name: String) throws {
    guard count == Int64(values.count) else {
        throw InterfaceError.mismatch("\(name) holds \(count) elements, the call writes \(values.count)")
    }
    guard !values.isEmpty else { return }
    guard let buffer else { throw InterfaceError.null(name) }
    values.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: values.count) }
}

/// A heap copy of `text` for C, freed by the handle that owns it.
func cString(_ text: String) -> UnsafeMutablePointer<CChar> { strdup(text)! }
