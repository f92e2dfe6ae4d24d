import AltoModels
import AltoTestSupport
import Foundation
import Testing

/// The access matrix (`AccessMatrix`) against the API running as a process, over HTTP; the integration tests ask
/// the same cells of the router in-process, in seconds.
@Suite(.timeLimit(.minutes(5))) struct AccessMatrixTests {
    @Test func everyRouteEveryRoleOwnAndOtherTenant() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            let report = try await AccessMatrix.check(try await AccessWorld(suite, run: suite.run, databaseURL: suite.databaseURL))
            #expect(report.failures.isEmpty, "\(report.failures.count) of \(report.cells) cells:\n\(report.failures.joined(separator: "\n"))")
            #expect(report.gaps.isEmpty, "\(report.gaps)")
            print("access matrix over HTTP: \(report.summary)")
        }
    }

    /// The routes the API builds are exactly the routes the table names: none is served without an entry.
    @Test func theRouterServesExactlyTheRoutesOfThePermissionTable() async throws {
        let (status, output) = try await ServiceProcess.run("alto-api", arguments: ["routes"],
                                                            environment: ["ALTO_SESSION_KEY": TestBackends.sessionKey, "ALTO_AUDIT_KEY": TestBackends.auditKey])
        #expect(status == 0, "\(output)")
        let served = Set(output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") == false && $0.contains(" /") })
        let table = Set(AccessPolicy.routes.keys.map(\.description))
        #expect(served == table, "served but not in the table: \(served.subtracting(table).sorted()); in the table but not served: \(table.subtracting(served).sorted())")
    }
}
