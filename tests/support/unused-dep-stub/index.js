// See package.json: this module replaces dependencies of @push.rocks/smartmongo that the
// tests never load. Import CongoServer from
// '@push.rocks/smartmongo/dist_ts/congodb/index.js', not from the package's main entry.
throw new Error('unused-dep-stub: this dependency of @push.rocks/smartmongo is stubbed out in tests/package.json (overrides); import @push.rocks/smartmongo/dist_ts/congodb/index.js instead');
