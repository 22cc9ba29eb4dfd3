// Package archtest holds the test that keeps roomkeeper's layering as
// docs/architecture.md describes it (which package may depend on which).
package archtest
