import CommandLineOptions
import Foundation
import RNNKit

/// Refuses, before any work is done, an output file that could not be
/// written or that would replace one of the command's inputs, so that a long
/// run never ends in a write error or destroys its own data.
func checkOutputs(_ outputs: [URL?], inputs: [URL?]) throws {
    let inputPaths = Set(inputs.compactMap { $0.map(canonicalPath) })
    for case let output? in outputs {
        let path = canonicalPath(output)
        if inputPaths.contains(path) {
            throw UsageError("\(output.path) is also an input of this command: writing it would replace that input")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw UsageError("cannot write \(output.path): it is a directory")
        }
        let folder = (path as NSString).deletingLastPathComponent
        guard access(folder.isEmpty ? "." : folder, W_OK | X_OK) == 0 else {
            throw UsageError("cannot write \(output.path): folder \(folder): \(String(cString: strerror(errno)))")
        }
    }
}

/// The absolute path with symbolic links resolved, so that two spellings of
/// one file compare equal.
private func canonicalPath(_ url: URL) -> String {
    url.standardizedFileURL.resolvingSymlinksInPath().path
}

/// Writes text atomically and durably, as model files are written: a reader
/// never sees a partial file, and a failure names the file and the reason.
func writeAtomically(_ text: String, to url: URL) throws {
    try writeFileAtomically(Array(text.utf8), to: url)
}
