import AltoTestSupport
import Foundation
import Testing

/// The harness every end-to-end test stands on: a service that dies says so at once, with its log, instead of a
/// test timing out later with nothing to go on.
@Suite(.timeLimit(.minutes(5))) struct HarnessTests {
    @Test func aServiceThatExitsWhileStartingFailsItsTestWithinSecondsWithItsLog() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let started = ContinuousClock.now
            let failure = await #expect(throws: TestFailure.self) {
                try await suite.launch("alto-ingest", environment: ["ALTO_POSTGRES_URL": "postgres://alto_app@127.0.0.1:1/nowhere"])
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(30), "it failed after \(elapsed), not after the \(ServiceProcess.startTimeout) start-up timeout")
            let report = failure?.description ?? ""
            #expect(report.contains("alto-ingest exited with status 1 while starting"), "\(report)")
            #expect(report.contains("cannot log in to PostgreSQL at postgres://alto_app@127.0.0.1:1/nowhere"), "the report shows the service's own words: \(report)")
        }
    }

    @Test func aServiceThatDiesWhileTheTestRunsFailsTheTest() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        let ingest = try #require(suite.service("alto-ingest"))
        let failure = await #expect(throws: TestFailure.self) {
            try await suite.whileRunning {
                kill(ingest.processIdentifier, SIGKILL)
                try await RunningSuite.waitUntil("alto-ingest is gone", timeout: .seconds(10)) { !ingest.isRunning }
            }
        }
        let report = failure?.description ?? ""
        #expect(report.contains("alto-ingest exited on its own with status"), "\(report)")
        #expect(!report.contains("alto-api"), "the API stopped cleanly on SIGTERM and is not blamed: \(report)")
    }

    /// The agent reads nothing of the central services' configuration, so a file server's environment that
    /// happens to carry a broken PostgreSQL URL does not stop it.
    @Test func theAgentStartsWithAMalformedPostgresURLInItsEnvironment() async throws {
        let suite = try await RunningSuite(["alto-api"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("baggage-\(suite.run)")
            let environment = suite.agentEnvironment(customer: customer, host: host, token: token)
                .merging(["ALTO_POSTGRES_URL": "this is not a url", "ALTO_POSTGRES_MIGRATION_URL": "mysql://nope"]) { _, new in new }
            try await suite.launch("alto-agent", arguments: ["run"], environment: environment)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
