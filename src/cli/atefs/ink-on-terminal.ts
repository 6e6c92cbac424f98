// Ink draws nothing until it exits when CI or CONTINUOUS_INTEGRATION is set (is-in-ci reads them
// once, when ink loads). Questions are only asked on a terminal, where that would hide them, so
// the variables are dropped before ink is imported.
delete process.env['CI'];
delete process.env['CONTINUOUS_INTEGRATION'];
