// swift-tools-version: 6.2
import PackageDescription

// The kernels are compiled once per instruction set, each variant module for
// its own target (the clang importer's -march also sets Swift's code
// generation), and `RNNKernels` picks one at run time from CPUID. Without FMA
// in the target, `SIMD.addingProduct` would lower to one libm `fmaf` call per
// lane, so the templates test for FMA and use a multiply and an add instead.
// Kernels are optimized in every configuration, so that `swift test` in debug
// runs them at full speed.
#if arch(x86_64)
    let kernelVariants: [(name: String, directory: String, targetFlags: [String])] = [
        ("KernelsAVX512", "AVX512", ["-Xcc", "-march=x86-64-v4"]),
        ("KernelsAVX2", "AVX2", ["-Xcc", "-march=x86-64-v3"]),
        ("KernelsBaseline", "Baseline", ["-Xcc", "-march=x86-64"])
    ]
#elseif arch(arm64)
    let kernelVariants: [(name: String, directory: String, targetFlags: [String])] = [
        ("KernelsNEON", "NEON", [])
    ]
#else
    let kernelVariants: [(name: String, directory: String, targetFlags: [String])] = []
#endif
let optimized: [SwiftSetting] = [.unsafeFlags(["-O", "-enforce-exclusivity=unchecked"])]
// `RNNKIT_FUZZING=1 swift build --product rnnkit-fuzz` (Tests/fuzz.sh) makes the
// harness a libFuzzer binary, with the readers in RNNKit and RNNKitFormats instrumented.
// A command-line flag cannot: it would reach KernelGenerator, which has no
// fuzz target to link.
let fuzzing = Context.environment["RNNKIT_FUZZING"] == "1"
let fuzzerFlags = ["-sanitize=fuzzer,address"]
/// The targets that read files: optimized, and instrumented when fuzzing.
let readers: [SwiftSetting] = [.unsafeFlags(["-O"] + (fuzzing ? fuzzerFlags : []))]

let package = Package(
    name: "RNNKit",
    platforms: [.macOS(.v13)],
    // MARK: - Public products
    products: [
        .library(name: "RNNKit", targets: ["RNNKit"]),
        // `MPICommunicator`, with the MPI trait: data-parallel runs across processes.
        .library(name: "RNNKitMPI", targets: ["RNNKitMPI"]),
        // The C interface (`Sources/CInterface/Header/include/rnnkit.h`) as a
        // shared library, libRNNKitC.so; the Python package bundles it.
        .library(name: "RNNKitC", type: .dynamic, targets: ["RNNKitC"]),
        .executable(name: "rnnkit", targets: ["rnnkit"]),
        .executable(name: "rnnkit-bench", targets: ["rnnkit-bench"])
    ],
    // `swift build --traits MPI` links MPI (Open MPI's pkg-config `ompi-c`,
    // Debian's libopenmpi-dev) into RNNKitMPI and the tools, which then train
    // data-parallel under `mpirun` or `srun`; the default build needs no MPI.
    traits: [
        .trait(name: "MPI", description: "Data-parallel training across processes over MPI (mpirun, srun)")
    ],
    targets: [
        // MARK: - Public API
        .target(
            name: "RNNKit",
            dependencies: ["RNNKitFormats", "RNNKernels", "CRNNSupport"],
            swiftSettings: readers
        ),
        .target(
            name: "RNNKitMPI",
            dependencies: ["RNNKit", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),
        .target(
            name: "RNNKitC",
            dependencies: ["RNNKit", "RNNKitCHeader"],
            path: "Sources/CInterface/Exports"
        ),
        .executableTarget(
            name: "rnnkit",
            dependencies: ["RNNKit", "RNNKitFormats", "CommandLineOptions", "RNNKitMPI"],
            resources: [.copy("Resources/tinyshakespeare.txt")]
        ),
        .executableTarget(
            name: "rnnkit-bench",
            dependencies: ["RNNKit", "RNNKernels", "CommandLineOptions", "RNNKitMPI"],
            path: "Benchmarks/rnnkit-bench"
        ),

        // MARK: - Implementation details
        // The file formats: safetensors, JSON, the read-only file layer and
        // text decoding. `RNNKit` re-exports only its public types (tensors,
        // safetensors files and the errors reading them throws); the rest is
        // `package`, for RNNKit, the tool and the tests.
        .target(
            name: "RNNKitFormats",
            swiftSettings: readers
        ),
        // Option parsing and generated help, shared by the tool and the bench
        // (KernelGenerator keeps its own: it builds before everything else).
        .target(name: "CommandLineOptions"),
        // rnnkit.h, and the thread-local last error the C interface reports.
        .target(
            name: "RNNKitCHeader",
            path: "Sources/CInterface/Header"
        ),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        .target(
            name: "RNNKernels",
            dependencies: ["KernelInterface"] + kernelVariants.map { .target(name: $0.name) },
            path: "Sources/RNNKernels/API",
            swiftSettings: optimized
        ),
        .target(
            name: "KernelInterface",
            dependencies: ["CRNNSupport"],
            path: "Sources/RNNKernels/Interface",
            swiftSettings: optimized
        )
    ]
        + kernelVariants.map { variant in
            .target(
                name: variant.name,
                dependencies: ["KernelInterface", "CRNNSupport"],
                path: "Sources/RNNKernels/\(variant.directory)",
                swiftSettings: [.unsafeFlags(variant.targetFlags)] + optimized,
                plugins: ["KernelGeneratorPlugin"]
            )
        } + [
            .executableTarget(
                name: "KernelGenerator",
                path: "Sources/KernelGenerator"
            ),
            .plugin(
                name: "KernelGeneratorPlugin",
                capability: .buildTool(),
                dependencies: ["KernelGenerator"]
            ),
            .target(
                name: "CRNNSupport",
                cSettings: [.unsafeFlags(["-O2"])]
            ),

            // MARK: - Tests
            .testTarget(
                name: "RNNKernelsTests",
                dependencies: ["RNNKernels", "CRNNSupport"]
            ),
            .testTarget(
                name: "RNNKitTests",
                dependencies: ["RNNKit", "RNNKitFormats", "RNNKernels", "AllocationCounter"]
            ),
            .target(
                name: "AllocationCounter",
                path: "Tests/AllocationCounter"
            ),
            .testTarget(
                name: "CommandLineTests",
                dependencies: ["RNNKit", "RNNKitFormats", "RNNKernels", "rnnkit"]
            ),
            // The readers' fuzz harness; a plain build replays inputs (Tests/fuzz.sh).
            .executableTarget(
                name: "rnnkit-fuzz",
                dependencies: ["RNNKit", "RNNKitFormats"],
                path: "Tests/Fuzz",
                swiftSettings: fuzzing ? [.define("FUZZING"), .unsafeFlags(fuzzerFlags)] : [],
                linkerSettings: fuzzing ? [.unsafeFlags(fuzzerFlags)] : []
            )
        ]
)
