// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// Declares one service executable under `Services/<folder>` with the shared libraries every service uses.
func service(_ name: String, folder: String, extra: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "AltoModels", "AltoService", "AltoStore", "AltoAMQP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ] + extra,
        path: "Services/\(folder)",
        swiftSettings: swiftSettings
    )
}

let package = Package(
    name: "Alto",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "alto-api", targets: ["alto-api"]),
        .executable(name: "alto-ingest", targets: ["alto-ingest"]),
        .executable(name: "alto-planner", targets: ["alto-planner"]),
        .executable(name: "alto-actor", targets: ["alto-actor"]),
        .executable(name: "alto-sanitizer", targets: ["alto-sanitizer"]),
        .executable(name: "alto-agent", targets: ["alto-agent"]),
        .executable(name: "alto-bench", targets: ["alto-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CAMQP",
            path: "Shared/CAMQP",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            path: "Shared/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CPCRE2",
            path: "Shared/CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .systemLibrary(
            name: "CSMBClient",
            path: "Shared/CSMBClient",
            pkgConfig: "smbclient",
            providers: [.apt(["libsmbclient-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Shared/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "AltoCompression",
            dependencies: ["AltoModels", "CZstd", "CZlib"],
            path: "Shared/AltoCompression",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoModels",
            dependencies: ["CPCRE2"],
            path: "Shared/AltoModels",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoPlanning",
            dependencies: [
                "AltoModels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Shared/AltoPlanning",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoAMQP",
            dependencies: [
                "CAMQP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/AltoAMQP",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoStore",
            dependencies: [
                "AltoModels",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/AltoStore",
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoService",
            dependencies: [
                "AltoModels", "AltoAMQP", "AltoStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Shared/AltoService",
            swiftSettings: swiftSettings
        ),
        service("alto-api", folder: "api", extra: [
            "AltoCompression", "AltoPlanning", "AltoKeys",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        service("alto-ingest", folder: "ingest", extra: [
            "AltoCompression",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        service("alto-planner", folder: "planner", extra: [
            "AltoPlanning",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        service("alto-actor", folder: "actor", extra: [
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        service("alto-sanitizer", folder: "sanitizer", extra: [
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        service("alto-agent", folder: "agent", extra: [
            "AltoTiering", "AltoCompression", "CAltoLinux", "AltoKeys",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .executableTarget(
            name: "alto-bench",
            dependencies: [
                "AltoModels", "AltoCompression", "AltoTiering", "AltoKeys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/alto-bench",
            swiftSettings: swiftSettings
        ),
        .target(name: "CAltoLinux", path: "Shared/CAltoLinux"),
        .target(
            name: "AltoKeys",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Shared/AltoKeys",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoTiering",
            dependencies: [
                "AltoModels", "AltoCompression", "CAltoLinux", "CSMBClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Shared/AltoTiering",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AltoPlanningTests",
            dependencies: ["AltoPlanning", "AltoModels"],
            path: "Tests/AltoPlanningTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AltoModelsTests",
            dependencies: ["AltoModels"],
            path: "Tests/AltoModelsTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AltoCompressionTests",
            dependencies: ["AltoCompression", "AltoModels"],
            path: "Tests/AltoCompressionTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AltoServiceTests",
            dependencies: ["AltoService", "AltoAMQP", "AltoModels", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AltoServiceTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AltoTieringTests",
            dependencies: ["AltoTiering", "AltoModels", "AltoStore", "AltoKeys", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/AltoTieringTests",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AltoTestSupport",
            dependencies: [
                "AltoStore", "AltoAMQP",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/AltoTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "AltoAMQP", "AltoStore", "AltoModels", "AltoTestSupport", "AltoTiering", "AltoKeys",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/IntegrationTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "AltoModels", "AltoTiering", "AltoTestSupport", "AltoAMQP", "AltoCompression", "AltoKeys",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/EndToEndTests",
            swiftSettings: swiftSettings
        ),
    ]
)
