import Foundation
import PackagePlugin

/// Generates a kernel variant module's sources before it compiles: the shared
/// kernel templates in Sources/RNNKernels/Templates, and kernels specialized
/// for each hidden size listed in Sources/RNNKernels/kernel-sizes.json.
///
/// Editing the config or a template reruns the generator on the next build.
@main
struct KernelGeneratorPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let kernels = context.package.directoryURL.appending(path: "Sources/RNNKernels")
        let configuration = kernels.appending(path: "kernel-sizes.json")
        let templates = try FileManager.default
            .contentsOfDirectory(at: kernels.appending(path: "Templates"), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "swift" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let sizes = try KernelSizes(contentsOf: configuration).hiddenSizes.sorted()

        // The name starts with the module's, so that no two variants' files collide.
        let module = target.name
        let output = context.pluginWorkDirectoryURL.appending(path: "GeneratedKernels")
        let outputs = [output.appending(path: "\(module)_Kernels.swift")]

        return [
            .buildCommand(
                displayName:
                    "Generating \(module) kernels for hidden sizes \(sizes.map(String.init).joined(separator: ", "))",
                executable: try context.tool(named: "KernelGenerator").url,
                arguments: [
                    "--module", module, "--output", output.path(),
                    "--sizes", sizes.map(String.init).joined(separator: ",")
                ]
                    + templates.map { $0.path() },
                inputFiles: [configuration] + templates,
                outputFiles: outputs)
        ]
    }
}

/// Sources/RNNKernels/kernel-sizes.json: `{ "hiddenSizes": [32, 64, ...] }`.
struct KernelSizes: Decodable {
    let hiddenSizes: [Int]

    init(contentsOf file: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw KernelSizesError("cannot read \(file.path()): \(error.localizedDescription)")
        }
        do { self = try JSONDecoder().decode(KernelSizes.self, from: data) } catch {
            throw KernelSizesError(
                "\(file.path()) must be a JSON object like {\"hiddenSizes\": [32, 64, 128]}: \(error)")
        }
        if let bad = hiddenSizes.first(where: { !(1...16384).contains($0) }) {
            throw KernelSizesError("\(file.path()): hidden size \(bad) is outside 1...16384")
        }
        if Set(hiddenSizes).count != hiddenSizes.count {
            throw KernelSizesError("\(file.path()): a hidden size is listed twice")
        }
    }
}

struct KernelSizesError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
