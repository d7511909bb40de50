// The few POSIX calls the IO layer needs, used directly so that failures
// report the exact operation and errno, and so that writes can be made
// durable (fsync of the file and of its directory), which Foundation's
// `Data.write(to:options: .atomic)` does not do.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened for reading, closed when the value goes away.
package struct _ReadOnlyFile: ~Copyable {
    package let path: String
    private let descriptor: Int32

    package init(path: String) throws {
        let descriptor = _retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw SafetensorsError.io(path: path, operation: "open", code: errno) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// The file's size in bytes. Directories are refused here, since reading
    /// one fails in platform-specific ways.
    package func size() throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SafetensorsError.io(path: path, operation: "stat", code: errno)
        }
        guard status.st_mode & S_IFMT != S_IFDIR else {
            throw SafetensorsError.io(path: path, operation: "read", code: EISDIR)
        }
        return Int(status.st_size)
    }

    /// Reads up to `count` bytes starting at `offset`; fewer if the file ends first.
    package func read(count: Int, at offset: Int) throws -> [UInt8] {
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count {
                let result = _retryingOnInterrupt {
                    pread(
                        descriptor, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                }
                if result < 0 {
                    failure = errno
                    return
                }
                if result == 0 { return }  // end of file
                initialized += result
            }
        }
        guard failure == 0 else { throw SafetensorsError.io(path: path, operation: "read", code: failure) }
        return bytes
    }
}

/// Replaces the file at `url` with `bytes`, atomically and durably.
///
/// Writes a uniquely named temporary file in the same directory, fsyncs it,
/// renames it over `url` and fsyncs the directory. On any failure before the
/// rename, the temporary file is removed and `url` is untouched.
package func writeFileAtomically(_ bytes: [UInt8], to url: URL) throws {
    let path = url.path
    let directory = url.deletingLastPathComponent().path
    let temporaryPath =
        directory + "/." + url.lastPathComponent + ".tmp-" + String(UInt64.random(in: .min ... .max), radix: 16)

    let descriptor = _retryingOnInterrupt {
        open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    }
    guard descriptor >= 0 else { throw SafetensorsError.io(path: path, operation: "create", code: errno) }

    func fail(_ operation: String, _ code: Int32, closing: Bool) -> SafetensorsError {
        if closing { close(descriptor) }
        unlink(temporaryPath)
        return SafetensorsError.io(path: path, operation: operation, code: code)
    }

    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { buffer in
            _retryingOnInterrupt { write(descriptor, buffer.baseAddress! + written, buffer.count - written) }
        }
        guard result > 0 else { throw fail("write", result < 0 ? errno : EIO, closing: true) }
        written += result
    }
    guard fsync(descriptor) == 0 else { throw fail("fsync", errno, closing: true) }
    // close can report a deferred write error (on NFS, for one): treat it as one.
    guard close(descriptor) == 0 else { throw fail("close", errno, closing: false) }
    guard rename(temporaryPath, path) == 0 else { throw fail("rename", errno, closing: false) }

    // Make the rename itself durable. Some file systems cannot fsync a
    // directory (EINVAL); the data is in place regardless, so that is not an error.
    let directoryDescriptor = _retryingOnInterrupt { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    guard directoryDescriptor >= 0 else { throw SafetensorsError.io(path: directory, operation: "open", code: errno) }
    defer { close(directoryDescriptor) }
    if fsync(directoryDescriptor) != 0, errno != EINVAL {
        throw SafetensorsError.io(path: directory, operation: "fsync", code: errno)
    }
}

/// Calls `operation` until it fails with something other than `EINTR`.
private func _retryingOnInterrupt<Result: BinaryInteger>(_ operation: () -> Result) -> Result {
    while true {
        let result = operation()
        if result >= 0 || errno != EINTR { return result }
    }
}
