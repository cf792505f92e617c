// swift-tools-version:6.0
import PackageDescription

// Targets are split along I/O lines (see Docs/ARCHITECTURE.md); each test target mirrors one source target.
let package = Package(
    name: "Tally",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tally", targets: ["tally"]),
        .library(name: "Ledger", targets: ["Ledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CPostgres",
            path: "Sources/CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // SQLite's allocator, in C: counted by Tally, so SQLite's own memory statistics (a global mutex
        // per malloc) stay off.
        .target(name: "CMemory", dependencies: ["CSQLite"]),
        .target(name: "SQLiteStore", dependencies: ["CSQLite", "CMemory"]),
        .target(
            name: "Ledger",
            dependencies: [
                "SQLiteStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "Raft"),
        .target(name: "RaftSim", dependencies: ["Raft"]),
        .target(
            name: "Consensus",
            dependencies: ["Raft", "Ledger", "SQLiteStore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "NodeAPI",
            dependencies: ["Consensus", "Ledger", "Raft", "Federation", "DeidSQL", "SQLiteStore", "Workflows",
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "DeidSQL"),
        .target(name: "Federation", dependencies: ["Ledger", "DeidSQL", "SQLiteStore"]),
        .target(name: "Ingest", dependencies: ["Ledger", "Federation", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Warehouse", dependencies: ["CPostgres", "Ledger", "Federation"]),
        .target(name: "Workflows", dependencies: ["Ledger", "Federation", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Node", dependencies: ["Ledger", "SQLiteStore", "DeidSQL", "Federation", "Ingest", "Warehouse", "Consensus", "NodeAPI", "Workflows"]),
        .executableTarget(
            name: "tally",
            dependencies: [
                "Node", "Ledger", "DeidSQL", "Federation", "Ingest", "Warehouse", "Raft", "RaftSim", "Consensus", "NodeAPI", "Workflows",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "TallyBench",
            dependencies: ["Ledger", "Node", "SQLiteStore", "DeidSQL", "Federation", "Ingest", "Warehouse", "Consensus",
                           .product(name: "Crypto", package: "swift-crypto")],
            path: "Benchmarks/TallyBench"
        ),
        .testTarget(name: "RaftTests", dependencies: ["Raft", "RaftSim"], exclude: ["Traces"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Raft", "Ledger", "SQLiteStore"]),
        .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "SQLiteStore"]),
        .testTarget(name: "DeidSQLTests", dependencies: ["DeidSQL", "SQLiteStore", "Ledger", .product(name: "Crypto", package: "swift-crypto")],
                    exclude: ["Golden"]),
        .testTarget(name: "FederationTests", dependencies: ["Federation", "Ledger", "DeidSQL", "SQLiteStore"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Federation", "Ledger", "DeidSQL", "SQLiteStore"]),
        .testTarget(name: "WorkflowsTests", dependencies: ["Workflows", "Federation", "Ledger", "DeidSQL", "SQLiteStore"]),
        .testTarget(name: "WarehouseTests", dependencies: ["Warehouse", "Ledger", "Federation"]),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Ledger", "Consensus", "NodeAPI", "tally"]),
    ],
    swiftLanguageModes: [.v5]
)
