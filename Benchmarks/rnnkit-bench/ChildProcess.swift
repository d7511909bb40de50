import Foundation

// Each shape runs in a fresh child process (this executable, re-run with the
// hidden `--child` flag), so that its peak resident memory is its own and no
// shape inherits another's heap, page cache warmth or thread pool state.

/// A child measurement that did not produce a result.
enum ChildError: Error, CustomStringConvertible {
    case launch(shape: String, reason: String)
    case exited(shape: String, status: Int32)
    case unreadableOutput(shape: String, output: String)

    var description: String {
        switch self {
        case .launch(let shape, let reason): "\(shape): could not start the measuring process: \(reason)"
        case .exited(let shape, let status):
            "\(shape): the measuring process exited with status \(status) (its message is above)"
        case .unreadableOutput(let shape, let output):
            "\(shape): unreadable result line from the measuring process: '\(output)'"
        }
    }
}

enum ChildProcess {
    /// This executable's path: `/proc/self/exe` resolved on Linux.
    static var executablePath: String {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Measures `shape` in a child process; the child's stderr passes through.
    ///
    /// - Parameter environment: Variables set for the child on top of this
    ///   process's environment (`RNNKIT_ISA`, `RNNKIT_KERNELS`).
    /// - Parameter ranks: MPI processes sharing each step, launched with
    ///   `mpirun -np ranks --oversubscribe` (one machine); 1 runs the child alone.
    static func measure(
        _ shape: BenchShape, threads: Int, minTime: Double, inference: Bool,
        environment: [String: String] = [:], ranks: Int = 1
    ) throws(ChildError) -> ShapeMeasurement {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let arguments = [
            "--child", "--shape", shape.name, "--threads", String(threads),
            "--min-time", String(minTime), inference ? "--inference" : "--no-inference"
        ]
        if ranks > 1 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["mpirun", "--oversubscribe", "-np", String(ranks), executablePath] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executablePath)
            process.arguments = arguments
        }
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch { throw .launch(shape: shape.name, reason: "\(error)") }
        // Read before waiting, so a full pipe cannot block the child.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw .exited(shape: shape.name, status: process.terminationStatus)
        }
        let line = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let result = try? JSONDecoder().decode(ShapeMeasurement.self, from: Data(line.utf8)) else {
            throw .unreadableOutput(shape: shape.name, output: line)
        }
        return result
    }

    /// The child's side: measures the one shape and prints it as one JSON line.
    static func runAsChild(_ options: BenchOptions) -> Never {
        guard let shape = options.shapes.first else { fail("--child needs a --shape", status: 2) }
        do {
            let result = try Measurement.run(
                shape, threads: options.threads, minTime: options.minTime,
                inference: options.inference)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let data = try encoder.encode(result)
            // Under mpirun every rank measured the same steps; rank 0 reports.
            if result.ranks == nil || Measurement.processes.isLead { print(String(decoding: data, as: UTF8.self)) }
            exit(0)
        } catch {
            fail("\(shape.name): \(error)", status: 1)
        }
    }
}

/// Prints `message` as one line on stderr and exits.
func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("rnnkit-bench: \(message)\n".utf8))
    exit(status)
}
