; C: function definitions, structs/unions/enums with a body, typedefs, object-like macros, constants.
(function_definition declarator: (_) @name) @definition.function
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.union
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(type_definition declarator: (_) @name) @definition.type
(preproc_def name: (identifier) @name value: (_)) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.macro
(translation_unit (declaration (type_qualifier) declarator: (init_declarator declarator: (identifier) @name)) @definition.constant)
