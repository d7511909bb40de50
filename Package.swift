// swift-tools-version: 6.2
import PackageDescription

// The kernels must be compiled for a target with fused multiply-add: without it
// `SIMD.addingProduct` lowers to one libm `fmaf` call per lane. x86-64-v3 is
// AVX2 + FMA (Haswell, Zen and later). They are optimized in every
// configuration, so that `swift test` in debug runs them at full speed.
#if arch(x86_64)
let kernelTargetFlags: [String] = ["-Xcc", "-march=x86-64-v3"]
#else
let kernelTargetFlags: [String] = []
#endif
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(kernelTargetFlags + ["-O", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "RNNKit",
    platforms: [.macOS(.v13)],
    // MARK: - Public products
    products: [
        .library(name: "RNNKit", targets: ["RNNKit"]),
        .executable(name: "rnnkit", targets: ["rnnkit"]),
        .executable(name: "rnnkit-bench", targets: ["rnnkit-bench"]),
    ],
    targets: [
        // MARK: - Public API
        .target(
            name: "RNNKit",
            dependencies: ["RNNKernels"],
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        .executableTarget(
            name: "rnnkit",
            dependencies: ["RNNKit"],
            resources: [.copy("Resources/tinyshakespeare.txt")]
        ),
        .executableTarget(
            name: "rnnkit-bench",
            dependencies: ["RNNKit", "RNNKernels"],
            path: "Benchmarks/rnnkit-bench"
        ),

        // MARK: - Implementation details
        .target(
            name: "RNNKernels",
            dependencies: ["CRNNSupport"],
            swiftSettings: kernelSettings
        ),
        .target(
            name: "CRNNSupport",
            cSettings: [.unsafeFlags(["-O2"])]
        ),

        // MARK: - Tests
        .testTarget(
            name: "RNNKernelsTests",
            dependencies: ["RNNKernels"]
        ),
        .testTarget(
            name: "RNNKitTests",
            dependencies: ["RNNKit", "RNNKernels", "AllocationCounter"]
        ),
        .target(
            name: "AllocationCounter",
            path: "Tests/AllocationCounter"
        ),
        .testTarget(
            name: "CommandLineTests",
            dependencies: ["RNNKit", "rnnkit"]
        ),
    ]
)
