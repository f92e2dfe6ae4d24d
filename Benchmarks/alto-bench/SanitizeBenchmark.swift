import AltoTiering
import AsyncHTTPClient
import Foundation
import NIOCore

/// A whole reconciliation run over a folder target of `objects` objects (copies and their descriptions), the way production runs it: alto-api,
/// alto-sanitizer and alto-agent as processes, a registry of as many rows, the agent listing the folder and
/// reporting it page by page, the sanitizer merging it in PostgreSQL, against `find -printf` listing the same
/// folder; then a bucket of moto's listed by `S3Store` against boto3's paginator. Peak memory is each process's own.
struct SanitizeBenchmark {
    let objects: Int
    let bucketObjects: Int
    let tree: String
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?
    let keepWork: Bool

    /// Objects a run must find out of place, of each kind: registry rows whose copy is not there, copies no row names.
    static let planted = 10

    /// Half the objects are copies, half their descriptions.
    var copies: Int { objects / 2 }

    func run() async throws {
        let environment = try BenchEnvironment(name: "sanitize", postgresURL: postgresURL, amqpURL: amqpURL, rabbitmqctl: rabbitmqctl,
                                               keepWork: keepWork)
        defer { environment.close() }
        // Copies are not read back here: a listing's speed is the question, and reading is a recall's.
        let (api, apiPort) = try await environment.start("alto-api", environment: ["ALTO_SANITIZER_VERIFY_PERCENT": "0"])
        let (sanitizer, _) = try await environment.start("alto-sanitizer", environment: [
            "ALTO_SANITIZER_INTERVAL_SECONDS": "0", "ALTO_SANITIZER_ORPHAN_MIN_AGE_SECONDS": "0",
        ])
        let (customer, host, token) = try await environment.enrol(apiPort: apiPort)
        let root = try prepareTree(customer: customer, host: host)
        struct Created: Decodable { var id: UUID }
        let target: Created = try await environment.post(apiPort: apiPort, "/api/v1/storage-targets",
                                                          body: ["name": "tier2", "kind": "filesystem", "location": root], customer: customer)
        let registered = try fillRegistry(environment.database, customer: customer, host: host, target: target.id, root: root)
        print("sanitize: a folder target of \(objects) objects (\(copies) copies and their descriptions) in \(Self.folders(objects)) folders, "
              + "\(registered) registry rows; \(Self.planted) copies missing and \(Self.planted) orphans planted")

        let find = try MeasuredProcess.run("/bin/sh", ["-c", "find '\(root)/\(customer.uuidString.lowercased())' -type f -printf '%s %p\\n' > /dev/null"])
        let listed = try await listInProcess(FilesystemStore(root: root), prefix: customer.uuidString.lowercased() + "/")

        let agent = try MeasuredProcess(AltoBench.binaries + "/alto-agent", ["run"], environment: environment.common.merging([
            "ALTO_API_URL": "http://127.0.0.1:\(apiPort)", "ALTO_AGENT_TOKEN": token, "ALTO_CUSTOMER_ID": customer.uuidString,
            "ALTO_HOST_ID": host.uuidString, "ALTO_AGENT_STATE_DIR": environment.work + "/agent", "ALTO_AGENT_START_GUARD": "false",
            "ALTO_AGENT_UNGUARDED_STUBS": "true", "ALTO_AGENT_SCAN_ROOTS": environment.work, "ALTO_HTTP_PORT": "0",
            "ALTO_KEY_PROVIDER": "none",
        ]) { _, new in new }, output: environment.work + "/alto-agent.log")
        defer { _ = agent.terminate() }
        try await Task.sleep(for: .seconds(2))
        struct Runs: Decodable { var runs: [Created] }
        let started = ContinuousClock.now
        let runs: Runs = try await environment.post(apiPort: apiPort, "/api/v1/reconciliations",
                                                    body: ReconcileRequest(target_id: target.id, verify: "sample", check_stubs: false), customer: customer)
        guard let run = runs.runs.first?.id else { throw BenchError("no reconciliation run was planned") }
        var peaks = (agent: 0.0, api: 0.0, sanitizer: 0.0)
        while try environment.database.run("SELECT state FROM reconciliation_runs WHERE id = '\(run)'") != "merged" {
            guard agent.isRunning else { throw BenchError("alto-agent exited; see \(environment.work)/alto-agent.log") }
            peaks = (max(peaks.agent, agent.peakMiBSoFar), max(peaks.api, api.peakMiBSoFar), max(peaks.sanitizer, sanitizer.peakMiBSoFar))
            try await Task.sleep(for: .milliseconds(200))
        }
        let whole = (ContinuousClock.now - started) / .seconds(1)
        peaks = (max(peaks.agent, agent.peakMiBSoFar), max(peaks.api, api.peakMiBSoFar), max(peaks.sanitizer, sanitizer.peakMiBSoFar))
        let counts = try environment.database.run("SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) AS n FROM findings GROUP BY kind) AS k")

        func line(_ label: String, _ seconds: Double, _ count: Int) -> String {
            "  " + label.padding(toLength: 44, withPad: " ", startingAt: 0)
                + String(format: "%7.2f s  %10.0f objects/s", seconds, Double(count) / seconds)
        }
        print(line("find -printf (the listing alone)", find.seconds, objects))
        print(line("FilesystemStore.list (the listing alone)", listed.seconds, listed.count)
              + String(format: "  ratio %.2f× find", find.seconds / listed.seconds))
        print(line("whole run: agent lists + reports, merge", whole, objects)
              + String(format: "  ratio %.2f× find", find.seconds / whole))
        print(String(format: "  peak memory: alto-agent %.0f MiB, alto-api %.0f MiB, alto-sanitizer %.0f MiB; FilesystemStore.list in this process %.0f MiB",
                     peaks.agent, peaks.api, peaks.sanitizer, listed.peakMiB))
        print("  findings: \(counts)")
        // Each planted orphan is a copy and its description.
        guard counts == "missing_copy \(Self.planted), orphan \(Self.planted * 2)" else {
            throw BenchError("the run found \(counts), not the \(Self.planted) missing copies and \(Self.planted) orphans planted")
        }
        if bucketObjects > 0 { try await bucket(environment) }
    }

    struct ReconcileRequest: Encodable {
        var target_id: UUID
        var verify: String
        var check_stubs: Bool
    }

    static func folders(_ objects: Int) -> Int { max(1, objects / 1000) }

    /// The tree at `tree` (made once, kept for the next run), its tenant and host folders renamed to this run's ids;
    /// returns the target's root.
    private func prepareTree(customer: UUID, host: UUID) throws -> String {
        let manager = FileManager.default
        let marker = tree + "/.complete"
        if !manager.fileExists(atPath: marker) {
            try? manager.removeItem(atPath: tree)
            print("generating \(objects) objects in \(tree) (kept for the next run)")
            for folder in 0..<Self.folders(objects) {
                let path = tree + "/tenant/" + Self.day(folder) + "/host"
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
                for index in stride(from: folder, to: copies, by: Self.folders(objects)) {
                    let name = path + "/\(index + 1)-copy.bin"
                    guard manager.createFile(atPath: name, contents: Data(count: index % 97)),
                          manager.createFile(atPath: name + ".alto.json", contents: Data("{}".utf8)) else { throw BenchError("cannot write \(name)") }
                }
            }
            _ = manager.createFile(atPath: marker, contents: nil)
        }
        let tenantFolder = try manager.contentsOfDirectory(atPath: tree).first { !$0.hasPrefix(".") } ?? "tenant"
        try manager.moveItem(atPath: tree + "/" + tenantFolder, toPath: tree + "/" + customer.uuidString.lowercased())
        for folder in 0..<Self.folders(objects) {
            let day = tree + "/" + customer.uuidString.lowercased() + "/" + Self.day(folder)
            let hostFolder = try manager.contentsOfDirectory(atPath: day).first ?? "host"
            try manager.moveItem(atPath: day + "/" + hostFolder, toPath: day + "/" + host.uuidString.lowercased())
        }
        return tree
    }

    /// `yyyy/mm/dd` of the `index`-th day from 2020-01-01.
    static func day(_ index: Int) -> String {
        let date = Date(timeIntervalSince1970: 1_577_836_800 + Double(index) * 86_400)
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d/%02d/%02d", parts.year ?? 2020, parts.month ?? 1, parts.day ?? 1)
    }

    /// A registry row for each copy but the last `planted` (orphans, with their descriptions), and `planted` rows for
    /// copies that are not there.
    private func fillRegistry(_ database: Psql, customer: UUID, host: UUID, target: UUID, root: String) throws -> Int {
        let folders = Self.folders(objects)
        let days = (0..<folders).map { "'\(Self.day($0))'" }.joined(separator: ",")
        let base = "\(root)/\(customer.uuidString.lowercased())/"
        _ = try database.run("""
            BEGIN;
            SELECT set_config('alto.customer_id', '\(customer)', true);
            INSERT INTO stub_registry (customer_id, host_id, file_path, target_id, tiered_location, hash, size, stored_bytes)
            SELECT '\(customer)', '\(host)', '/srv/share/file-' || n, '\(target)',
                   '\(base)' || (ARRAY[\(days)])[(n - 1) % \(folders) + 1] || '/\(host.uuidString.lowercased())/' || n || '-copy.bin',
                   'sha256:' || repeat('0', 64), (n - 1) % 97, (n - 1) % 97
            FROM generate_series(1, \(copies - Self.planted)) AS n;
            INSERT INTO stub_registry (customer_id, host_id, file_path, target_id, tiered_location, hash, size, stored_bytes)
            SELECT '\(customer)', '\(host)', '/srv/share/gone-' || n, '\(target)', '\(base)2020/01/01/\(host.uuidString.lowercased())/0' || n || '-gone.bin',
                   'sha256:' || repeat('0', 64), 0, 0
            FROM generate_series(1, \(Self.planted)) AS n;
            UPDATE stub_registry SET created_at = now() - interval '1 day';
            COMMIT;
            ANALYZE stub_registry;
            """)
        return copies
    }

    /// Lists a store in this process, counting what it hands out; the peak is this process's.
    private func listInProcess(_ store: any TierStore, prefix: String) async throws -> (seconds: Double, count: Int, peakMiB: Double) {
        let started = ContinuousClock.now
        var count = 0
        try await store.list(prefix: prefix) { page in count += page.count }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ((ContinuousClock.now - started) / .seconds(1), count, Double(usage.ru_maxrss) / 1024)
    }

    /// A moto bucket of `bucketObjects` keys listed by `S3Store` against boto3's paginator.
    private func bucket(_ environment: BenchEnvironment) async throws {
        let moto = try MeasuredProcess("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], output: environment.work + "/moto.log")
        // moto's server stops on neither SIGTERM nor SIGINT while its threads serve.
        defer {
            kill(moto.pid, SIGKILL)
            _ = moto.wait()
        }
        var port = 0
        for _ in 0..<100 where port == 0 {
            try await Task.sleep(for: .milliseconds(200))
            let log = (try? String(contentsOfFile: environment.work + "/moto.log", encoding: .utf8)) ?? ""
            if let range = log.range(of: "Running on http://127.0.0.1:") {
                port = Int(log[range.upperBound...].prefix { $0.isNumber }) ?? 0
            }
        }
        guard port > 0 else { throw BenchError("moto did not start; see \(environment.work)/moto.log") }
        let boto3 = """
            import boto3, concurrent.futures, sys, time
            s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:\(port)', region_name='us-east-1',
                              aws_access_key_id='AKIABENCH', aws_secret_access_key='bench')
            """
        _ = try Psql.capture(["python3", "-c", boto3 + """

            s3.create_bucket(Bucket='alto-bench')
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda n: s3.put_object(Bucket='alto-bench', Key='tier2/tenant/2020/01/01/host/%d-copy.bin' % n, Body=b''),
                              range(\(bucketObjects))))
            """])
        let theirs = try Psql.capture(["python3", "-c", boto3 + """

            started = time.monotonic()
            count = sum(len(page.get('Contents', [])) for page in s3.get_paginator('list_objects_v2').paginate(Bucket='alto-bench', Prefix='tier2/tenant/'))
            print(count, time.monotonic() - started)
            """]).split(separator: " ")
        guard theirs.count == 2, let boto3Seconds = Double(theirs[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("boto3 listed nothing: \(theirs)")
        }
        let store = try S3Store(endpoint: "http://127.0.0.1:\(port)", bucket: "alto-bench", prefix: "tier2/",
                                signer: SigV4Signer(accessKeyID: "AKIABENCH", secretAccessKey: "bench", region: "us-east-1"))
        let ours = try await listInProcess(store, prefix: "tenant/")
        guard ours.count == bucketObjects else { throw BenchError("S3Store listed \(ours.count) of \(bucketObjects) keys") }
        print("a moto bucket of \(bucketObjects) keys:")
        print(String(format: "  %@%7.2f s  %10.0f objects/s", "boto3 list_objects_v2 paginator".padding(toLength: 44, withPad: " ", startingAt: 0),
                     boto3Seconds, Double(bucketObjects) / boto3Seconds))
        print(String(format: "  %@%7.2f s  %10.0f objects/s  ratio %.2f× boto3", "S3Store.list".padding(toLength: 44, withPad: " ", startingAt: 0),
                     ours.seconds, Double(bucketObjects) / ours.seconds, boto3Seconds / ours.seconds))
    }
}
