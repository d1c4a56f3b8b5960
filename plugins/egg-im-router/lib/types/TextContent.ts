import { IsNotEmpty, IsString } from 'class-validator';

/** The built-in `text` type: a non-empty string; other keys are allowed and kept as sent. */
export class TextContent {
  @IsString()
  @IsNotEmpty()
  text!: string;
}
