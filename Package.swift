// swift-tools-version: 6.0
import PackageDescription

/// Vector code generation for the kernels and layers. On x86-64 they are compiled for AVX2
/// and FMA (x86-64-v3: every x86-64 CPU since 2013–2015), never AVX-512, so the binary
/// runs on machines without AVX-512; other architectures use their defaults.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma"])]
#else
let kernelFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "AdderLab",
    products: [
        .executable(name: "adderlab", targets: ["adderlab"]),
        .library(name: "AdderNN", targets: ["AdderNN"]),
        // Tensors, kernels, threads and gradient rules, for harnesses written against the library.
        .library(name: "AdderCore", targets: ["AdderCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CNCurses",
            providers: [.apt(["libncursesw5-dev"])]
        ),
        .systemLibrary(name: "CVector"),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Open MPI, loaded at run time by a process that mpirun started (no build dependency).
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "AdderCore", dependencies: ["COpenBLAS", "CVector", "CMPI"], swiftSettings: kernelFlags),
        .target(name: "AdderData", dependencies: ["AdderCore", "CZlib"]),
        .target(name: "AdderNN", dependencies: ["AdderCore", "CVector"], swiftSettings: kernelFlags),
        .target(name: "AdderTUI", dependencies: ["AdderTrain", "AdderData", "AdderCore", "CNCurses"]),
        .target(name: "AdderTrain", dependencies: ["AdderNN", "AdderData", "CZlib", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "adderlab",
            dependencies: [
                "AdderNN",
                "AdderTrain",
                "AdderTUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers every test target shares: temporary directories, tolerances.
        .target(name: "AdderTestSupport", path: "Tests/AdderTestSupport"),
        .testTarget(name: "AdderCoreTests", dependencies: ["AdderCore", "AdderTestSupport"]),
        .testTarget(name: "AdderNNTests", dependencies: ["AdderTestSupport", "AdderNN", "AdderCore"]),
        .testTarget(name: "AdderTUITests", dependencies: ["AdderTestSupport", "AdderTUI", "AdderTrain"]),
        .testTarget(name: "AdderTrainTests", dependencies: ["AdderTestSupport", "AdderTrain", "AdderNN", "AdderData", "AdderCore", "CZlib"]),
        .testTarget(name: "AdderDataTests", dependencies: ["AdderTestSupport", "AdderData", "AdderCore", "CZlib"]),
        // The `adderlab` command run as a process, as a user runs it.
        .testTarget(name: "AdderLabCommandTests", dependencies: ["AdderTestSupport", "AdderTrain", "adderlab"]),
    ],
    swiftLanguageModes: [.v6]
)
