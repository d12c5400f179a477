; HTML: elements that carry an id, and script and style blocks.
(script_element (start_tag (tag_name) @name)) @definition.script
(style_element (start_tag (tag_name) @name)) @definition.style
(element (start_tag (attribute (attribute_name) @_attr (quoted_attribute_value (attribute_value) @name)) (#eq? @_attr "id"))) @definition.element
(element (self_closing_tag (attribute (attribute_name) @_attr (quoted_attribute_value (attribute_value) @name)) (#eq? @_attr "id"))) @definition.element
