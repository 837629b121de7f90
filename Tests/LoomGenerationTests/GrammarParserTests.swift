import XCTest
@testable import LoomGeneration

/// GBNF syntax: what compiles, and errors that name the place and the problem.
final class GrammarParserTests: XCTestCase {
    func error(_ gbnf: String) -> GrammarError? {
        do {
            _ = try Grammar(gbnf: gbnf)
            return nil
        } catch let e as GrammarError {
            return e
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testSyntaxCompiles() throws {
        let g = try Grammar(gbnf: #"""
        # a comment line
        root   ::= greeting (" " name)? "!"{1,3}  # trailing comment
        greeting ::= "hi" | "hello"
        name ::= [A-Z] [a-z]* | "\x41\u00e9\U0001F600" | [^\n"\\]+ | .
        empty ::= ""
        group ::= ( "a"
                    | "b" )+ "c"{2} "d"{1,} "e"{0,2}
        """#)
        XCTAssertTrue(g.ruleNames.contains("greeting"))
        XCTAssertEqual(g.ruleNames[g.rootID], "root")
    }

    func testErrorsNameLineAndColumn() {
        let e1 = error("root ::= \"abc")
        XCTAssertEqual(e1?.line, 1)
        XCTAssertTrue(e1?.message.contains("unterminated string") ?? false, "\(String(describing: e1))")

        let e2 = error("root ::= a\na ::= [a-")
        XCTAssertEqual(e2?.line, 2)
        XCTAssertTrue(e2?.message.contains("character class") ?? false, "\(String(describing: e2))")

        let e3 = error("root ::= \"a\" \\q")
        XCTAssertNotNil(e3)

        let e4 = error("root ::= x\nx := \"a\"")
        XCTAssertEqual(e4?.line, 2)
        XCTAssertTrue(e4?.message.contains("'::='") ?? false, "\(String(describing: e4))")

        let e5 = error("root ::= (\"a\" | \"b\"")
        XCTAssertTrue(e5?.message.contains("')'") ?? false, "\(String(describing: e5))")
        XCTAssertEqual(e5?.column, 10)

        let e6 = error("root ::= * \"a\"")
        XCTAssertTrue(e6?.message.contains("must follow an item") ?? false, "\(String(describing: e6))")

        let e7 = error("root ::= \"a\"{3,1}")
        XCTAssertTrue(e7?.message.contains("maximum below") ?? false, "\(String(describing: e7))")

        let e8 = error("root ::= [z-a]")
        XCTAssertTrue(e8?.message.contains("reversed") ?? false, "\(String(describing: e8))")

        let e9 = error("root ::= \"a\"\nroot ::= \"b\"")
        XCTAssertEqual(e9?.line, 2)
        XCTAssertTrue(e9?.message.contains("defined twice") ?? false)

        XCTAssertTrue(error("")?.message.contains("empty") ?? false)
        XCTAssertTrue(error("root ::= []")?.message.contains("empty character class") ?? false)
    }

    func testUndefinedRuleAndMissingRoot() {
        let undefined = error("root ::= \"a\" missing\n")
        XCTAssertEqual(undefined?.message, "undefined rule 'missing'")
        XCTAssertEqual(undefined?.line, 1)
        XCTAssertEqual(undefined?.column, 14)

        XCTAssertTrue(error("start ::= \"a\"")?.message.contains("no 'root' rule") ?? false)
        XCTAssertNoThrow(try Grammar(gbnf: "start ::= \"a\"", startRule: "start"))
    }

    func testLeftRecursionIsRefused() {
        // Direct, indirect, and through a rule that can be empty.
        let direct = error("root ::= root \"a\" | \"b\"")
        XCTAssertTrue(direct?.message.contains("left-recursive") ?? false, "\(String(describing: direct))")
        XCTAssertTrue(direct?.message.contains("root -> root") ?? false, "\(String(describing: direct))")

        let indirect = error("root ::= a\na ::= b \"x\"\nb ::= a | \"y\"")
        XCTAssertTrue(indirect?.message.contains("left-recursive") ?? false, "\(String(describing: indirect))")

        let nullable = error("root ::= opt root \"x\" | \"y\"\nopt ::= \"z\" |")
        XCTAssertTrue(nullable?.message.contains("left-recursive") ?? false, "\(String(describing: nullable))")

        // Right recursion is fine.
        XCTAssertNoThrow(try Grammar(gbnf: "root ::= \"a\" root | \"b\""))
        XCTAssertNoThrow(try Grammar(gbnf: "root ::= \"(\" root \")\" root |"))
    }
}
