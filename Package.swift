// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let postgresNIO = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")

/// What every central service's library builds on: the database, the broker, the shared runtime.
let centralService: [Target.Dependency] = [
    "AltoModels", "AltoAMQP", "AltoRuntime", "AltoCentral", "AltoStore", logging, metrics, postgresNIO, serviceLifecycle,
]

/// One service of the design card: its logic in the library `library` (`Services/<folder>/<library>`), which the
/// tests import, and the executable `alto-<folder>` (`Services/<folder>/alto-<folder>`), which only reads its
/// configuration and runs what the library builds.
func service(_ folder: String, library: String, dependencies: [Target.Dependency], executable: [Target.Dependency]) -> [Target] {
    [
        .target(name: library, dependencies: dependencies, path: "Services/\(folder)/\(library)", swiftSettings: swiftSettings),
        .executableTarget(name: "alto-\(folder)", dependencies: [.target(name: library), argumentParser, serviceLifecycle] + executable,
                          path: "Services/\(folder)/alto-\(folder)", swiftSettings: swiftSettings),
    ]
}

/// A C library from Debian's -dev package, wrapped by exactly one Swift target.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Shared/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

func library(_ name: String, _ dependencies: [Target.Dependency], resources: [Resource]? = nil) -> Target {
    .target(name: name, dependencies: dependencies, path: "Shared/\(name)", resources: resources, swiftSettings: swiftSettings)
}

func tests(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .testTarget(name: name, dependencies: dependencies, path: "Tests/\(name)", swiftSettings: swiftSettings)
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
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
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
        systemLibrary("CAMQP", pkgConfig: "librabbitmq", apt: "librabbitmq-dev"),
        systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
        systemLibrary("CPCRE2", pkgConfig: "libpcre2-8", apt: "libpcre2-dev"),
        systemLibrary("CSMBClient", pkgConfig: "smbclient", apt: "libsmbclient-dev"),
        systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
        .target(name: "CAltoLinux", path: "Shared/CAltoLinux"),

        // Libraries every process may use, the agent on a file server included.
        library("AltoModels", ["CPCRE2"]),
        library("AltoCompression", ["AltoModels", "CZstd", "CZlib"]),
        library("AltoAMQP", ["CAMQP", logging, serviceLifecycle]),
        library("AltoKeys", [crypto, asyncHTTPClient]),
        library("AltoTiering", ["AltoModels", "AltoCompression", "CAltoLinux", "CSMBClient", crypto, asyncHTTPClient]),
        library("AltoRuntime", [
            "AltoModels", "AltoAMQP", logging, metrics, serviceLifecycle,
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // Libraries of the central services only: PostgreSQL and what is kept there.
        library("AltoStore", ["AltoModels", crypto, postgresNIO, logging, .product(name: "NIOSSL", package: "swift-nio-ssl")],
                resources: [.copy("Migrations")]),
        library("AltoPlanning", ["AltoModels", logging, postgresNIO]),
        library("AltoCentral", [
            "AltoRuntime", "AltoAMQP", "AltoStore", logging, metrics, postgresNIO, serviceLifecycle,
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ]
    + service("api", library: "AltoAPI", dependencies: centralService + [
        "AltoCompression", "AltoPlanning", "AltoKeys", "AltoTiering", crypto, asyncHTTPClient,
        .product(name: "Configuration", package: "swift-configuration"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "Prometheus", package: "swift-prometheus"),
    ], executable: ["AltoCentral", "AltoModels"])
    + service("ingest", library: "AltoIngest", dependencies: centralService + ["AltoCompression"], executable: ["AltoCentral"])
    + service("planner", library: "AltoPlanner", dependencies: centralService + ["AltoPlanning"], executable: ["AltoCentral"])
    + service("actor", library: "AltoActor", dependencies: centralService, executable: ["AltoCentral"])
    + service("sanitizer", library: "AltoSanitizer", dependencies: centralService, executable: ["AltoCentral"])
    // The one program installed on customers' file servers: nothing of PostgreSQL or the migrations.
    + service("agent", library: "AltoAgent", dependencies: [
        "AltoModels", "AltoAMQP", "AltoRuntime", "AltoTiering", "AltoCompression", "CAltoLinux", "AltoKeys",
        crypto, asyncHTTPClient, logging, metrics, serviceLifecycle,
    ], executable: ["AltoRuntime", "AltoModels"])
    + [
        .executableTarget(
            name: "alto-bench",
            dependencies: ["AltoModels", "AltoCompression", "AltoTiering", "AltoKeys", argumentParser, asyncHTTPClient],
            path: "Benchmarks/alto-bench",
            swiftSettings: swiftSettings
        ),

        // Unit tests: pure logic, no servers.
        tests("AltoModelsTests", ["AltoModels"]),
        tests("AltoCompressionTests", ["AltoCompression", "AltoModels"]),
        tests("AltoPlanningTests", ["AltoPlanning", "AltoModels", postgresNIO]),
        tests("AltoRuntimeTests", ["AltoRuntime", "AltoAMQP", "AltoModels", logging]),
        tests("AltoStoreTests", ["AltoStore"]),
        tests("AltoTieringTests", ["AltoTiering", "AltoModels", "AltoKeys", "CAltoLinux", crypto]),
        tests("AltoAgentTests", ["AltoAgent", "AltoModels"]),

        // What the integration and end-to-end tests share: the real servers, the suite as processes, fixtures.
        .target(
            name: "AltoTestSupport",
            dependencies: ["AltoStore", "AltoAMQP", "AltoModels", postgresNIO, logging],
            path: "Tests/AltoTestSupport",
            swiftSettings: swiftSettings
        ),
        // Against the real PostgreSQL, RabbitMQ and tier-2 peers, services in-process.
        tests("IntegrationTests", [
            "AltoAMQP", "AltoStore", "AltoModels", "AltoTestSupport", "AltoTiering", "AltoKeys", "AltoRuntime", "AltoCentral", "AltoAPI",
            "AltoIngest",
            crypto, postgresNIO, logging, serviceLifecycle,
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // The executables as processes.
        tests("EndToEndTests", [
            "AltoModels", "AltoTiering", "AltoTestSupport", "AltoAMQP", "AltoCompression", "AltoKeys", crypto, postgresNIO, logging,
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
    ]
)
