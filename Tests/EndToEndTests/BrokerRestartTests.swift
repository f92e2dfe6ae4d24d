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
}
