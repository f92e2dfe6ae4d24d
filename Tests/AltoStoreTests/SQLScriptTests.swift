import AltoStore
import Testing

@Suite struct SQLScriptTests {
    @Test func splitsOnlyOnStatementSemicolons() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (note text DEFAULT 'x;y');
            /* block; comment */ CREATE TABLE "b;c" (id int);
            CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; END; $$;
            CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $body$ BEGIN PERFORM 2; END; $body$
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("DEFAULT 'x;y')"))
        #expect(statements[2].contains("PERFORM 1; END; $$"))
        #expect(statements[3].hasSuffix("$body$"))
    }
}
