import AltoTestSupport
import Foundation
import Testing

/// Migrations are a step of their own: a service holds only its own login, waits for a database that is not
/// migrated yet and says what it waits for, and starts once `alto-api migrate` has run as the schema's owner.
@Suite(.timeLimit(.minutes(3))) struct MigrationStepTests {
    @Test func aServiceWaitsForTheMigrationStepAndNeedsOnlyItsOwnLogin() async throws {
        let slot = await SuiteSlots.shared.acquire()
        let backends = try await TestBackends.make("migrate")
        let servicesOnly = backends.environment.merging(["ALTO_POSTGRES_MIGRATION_URL": ""]) { _, new in new }
        do {
            let impatient = try ServiceProcess("alto-ingest", environment: servicesOnly.merging(["ALTO_MIGRATION_WAIT_SECONDS": "0"]) { _, new in new },
                                               logFolder: backends.work)
            try await RunningSuite.waitUntil("a service that may not wait exits", timeout: .seconds(60)) { !impatient.isRunning }
            #expect(impatient.exitStatus != 0)
            #expect(impatient.log.contains("run `alto-api migrate`"), "\(impatient.logTail)")

            let waiting = try ServiceProcess("alto-ingest", environment: servicesOnly, logFolder: backends.work)
            try await RunningSuite.waitUntil("the service says it waits for the migration", timeout: .seconds(30)) {
                waiting.log.contains("waiting for the database to be migrated")
            }
            let (refused, refusal) = try await ServiceProcess.run("alto-api", arguments: ["migrate"], environment: servicesOnly)
            #expect(refused != 0, "the services' login cannot migrate")
            #expect(refusal.contains("ALTO_POSTGRES_MIGRATION_URL"), "\(refusal)")
            let (migrated, output) = try await ServiceProcess.run("alto-api", arguments: ["migrate"], environment: backends.environment)
            #expect(migrated == 0, "\(output)")
            _ = try await waiting.waitUntilHealthy()
            #expect(await waiting.terminate() == 0)
        } catch {
            await backends.release()
            await slot.release()
            throw error
        }
        await backends.release()
        await slot.release()
        try? FileManager.default.removeItem(at: backends.work)
    }
}
