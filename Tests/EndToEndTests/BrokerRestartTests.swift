import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// RabbitMQ stopped and started again while an agent tiers: run on its own (scripts/test.sh), since every other
/// suite shares the broker.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BrokerRestartTests {
    let faults = TieringFaultTests()

    @Test func theBrokerRestartedMidJobLosesNothing() async throws {
        let (suite, data, tier2, originals) = try await faults.start(["ALTO_ACTOR_SWEEP_SECONDS": "1"], files: 6, bytes: 16 << 20)
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, bandwidth: 32 << 20)
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the job is running", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'running'") == 1
                }
                try await TestServers.rabbitmqctl("stop_app")
                try await Task.sleep(for: .seconds(3))
                try await TestServers.rabbitmqctl("start_app")
                try await faults.expectNothingLost(originals, of: tenant)
                try await RunningSuite.waitUntil("the job finishes after the broker is back", timeout: .seconds(90)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1
                }
                #expect(try await faults.expectNothingLost(originals, of: tenant).count == 6)
                try await faults.expectRecallsGiveOriginals(suite, tenant, originals, postgres: postgres)
            }
        }
    }

    @Test func theBrokerDownLongerThanAPublishMayWaitLosesNoResult() async throws {
        let (suite, data, tier2, originals) = try await faults.start(["ALTO_ACTOR_SWEEP_SECONDS": "1"], files: 6, bytes: 8 << 20)
        try await suite.whileRunning {
            let tenant = try await faults.makeTenant(suite, data: data, tier2: tier2, bandwidth: 16 << 20)
            try await faults.startAgentAndScan(suite, tenant, data: data)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the first file is a stub", timeout: .seconds(60)) {
                    try originals.keys.contains { try StubFile.record(at: $0) != nil }
                }
                try await TestServers.rabbitmqctl("stop_app")
                do {
                    try await RunningSuite.waitUntil("every file is a stub while the broker is down", timeout: .seconds(60)) {
                        try originals.keys.allSatisfy { try StubFile.record(at: $0) != nil }
                    }
                    // Longer than a publish waits for its confirm (60 s): results whose sending timed out stay spooled.
                    try await Task.sleep(for: .seconds(75))
                } catch {
                    try await TestServers.rabbitmqctl("start_app")
                    throw error
                }
                try await TestServers.rabbitmqctl("start_app")
                try await RunningSuite.waitUntil("the job ends done once the broker is back", timeout: .seconds(120)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM tiering_jobs WHERE state = 'done'") == 1
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'active'") == originals.count)
                let saved = try await RunningSuite.count(postgres, "SELECT bytes_saved FROM tiering_jobs")
                let total = originals.values.reduce(0) { $0 + $1.count }
                #expect(saved <= total && saved >= total * 9 / 10, "bytes saved are counted once: \(saved) of \(total)")
                #expect(try await faults.expectNothingLost(originals, of: tenant).count == originals.count)
            }
        }
    }
}
