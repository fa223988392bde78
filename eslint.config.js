import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.js',
            '.*.js',
            'bin/*.js',
            'scripts/*.mjs',
            'test/fixtures/*.mjs',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Route handlers are async by fastify's convention, awaited or not.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // `x!` asserts what the types could not prove; in src/ the code proves it instead (tests,
    // below, may assert what they have just set up).
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'error',
      // `import * as z` lets the command line's bundle keep only the parts of zod Vigil uses
      // (scripts/bundle-cli.mjs); zod's `z` export carries all of it, every locale included.
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportDeclaration[source.value='zod'][importKind='value'] > ImportSpecifier[imported.name='z']",
          message: "import * as z from 'zod' (a bundle keeps only the parts used)",
        },
      ],
    },
  },
  {
    files: ['bin/*.js', '*.js', 'scripts/*.mjs', 'test/fixtures/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },

  {
    // The core is pure: no I/O, no clock, no environment, no adapters.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'core/ is pure: no Node.js modules.' },
            { group: ['../*', '!../core/*'], message: 'core/ imports nothing outside core/.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'core/ never reads the environment.' },
        { name: 'Date', message: 'core/ takes `now` as an argument.' },
        { name: 'setTimeout', message: 'core/ has no timers.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'core/ is deterministic.' },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
