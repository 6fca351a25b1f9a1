"""The evaluation harness: the analytics (and, later, the whole loop) scored against the sandbox
market's truth. The only product code that reads the market's truth, and so the only product
package besides the CLI's local wiring that imports ``spectra.sandbox`` (import-linter enforces
it: see ``.importlinter``)."""
