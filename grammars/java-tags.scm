; Java: types, methods, constructors, static final constants; an enum constant or a field with a
; class body of its own, so the methods in that body are its (`Color.RED.code`, `Outer.task.run`).
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(compact_constructor_declaration name: (identifier) @name) @definition.method
(field_declaration (modifiers) @_mods declarator: (variable_declarator name: (identifier) @name) (#match? @_mods "static") (#match? @_mods "final")) @definition.constant
(annotation_type_element_declaration name: (identifier) @name) @definition.method
(enum_constant name: (identifier) @name body: (class_body)) @definition.constant
(field_declaration declarator: (variable_declarator name: (identifier) @name value: (object_creation_expression (class_body)))) @definition.variable
